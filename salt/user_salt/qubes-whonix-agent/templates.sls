# The Whonix templates from the community repository, tagged so that the updates policy
# sends their updates to the Whonix-Gateway, with the Whonix feature Qubes keys on.
{% from 'qubes-whonix-agent/map.jinja' import whonix with context %}

{% for flavour in ['gateway', 'workstation'] %}
{%   set template = whonix.templates[flavour] %}
qubes-whonix-agent-template-{{ flavour }}:
  qvm.template_installed:
    - name: {{ template.name|json }}
    - fromrepo: {{ whonix.templates.repo|json }}

qubes-whonix-agent-template-{{ flavour }}-settings:
  qvm.vm:
    - name: {{ template.name|json }}
    - tags:
      - add:
        - {{ whonix.templates.updates_tag|json }}
    - features:
      - enable:
        - {{ template.feature|json }}
{%   if template.services %}
    - service:
      - enable: {{ template.services|json }}
{%   endif %}
    - require:
      - qvm: qubes-whonix-agent-template-{{ flavour }}
{% endfor %}
