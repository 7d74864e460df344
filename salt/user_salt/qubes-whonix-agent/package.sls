# Runs inside the Whonix templates (targeted through the Salt VM connector): installs the
# agent from the template's APT sources, through its torified updates proxy.
{% from 'qubes-whonix-agent/map.jinja' import whonix with context %}

{% if grains['os_family'] == 'Debian' %}
qubes-whonix-agent-package:
  pkg.installed:
    - name: {{ whonix.package.name|json }}
    - refresh: true
{% else %}
qubes-whonix-agent-package:
  test.fail_without_changes:
    - name: {{ ('qubes-whonix-agent is packaged for Debian-based Whonix templates; ' ~ grains['id'] ~ ' runs ' ~ grains['os'])|json }}
{% endif %}
