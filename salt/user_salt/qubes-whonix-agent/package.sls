# Runs inside the Whonix templates (targeted through the Salt VM connector): installs the
# agent from the template's APT sources, through its torified updates proxy.
{% from 'qubes-whonix-agent/map.jinja' import whonix with context %}

# Fedora is the likely wrong target in Qubes; Whonix's own os grain varies with its
# os-release, so only the RedHat family is refused by name.
{% if grains['os_family'] == 'RedHat' %}
qubes-whonix-agent-package:
  test.fail_without_changes:
    - name: {{ ('qubes-whonix-agent is a Debian package for Whonix templates; ' ~ grains['id'] ~ ' runs ' ~ grains['os'])|json }}
{% else %}
qubes-whonix-agent-package:
  pkg.installed:
    - name: {{ whonix.package.name|json }}
    - refresh: true
{% endif %}
