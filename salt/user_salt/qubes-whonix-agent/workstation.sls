# anon-whonix: the Whonix-Workstation qube, networked through sys-whonix only.
{% from 'qubes-whonix-agent/map.jinja' import whonix with context %}
{% set workstation = whonix.workstation %}

include:
  - qubes-whonix-agent.templates
  - qubes-whonix-agent.gateway
  - qubes-whonix-agent.disposable

qubes-whonix-agent-workstation:
  qvm.vm:
    - name: {{ workstation.name|json }}
    - present:
      - template: {{ whonix.templates.workstation.name|json }}
      - label: {{ workstation.label|json }}
{% if workstation.memory %}
      - mem: {{ workstation.memory|json }}
{% endif %}
    - prefs:
      - label: {{ workstation.label|json }}
{% if workstation.memory %}
      - memory: {{ workstation.memory|json }}
{% endif %}
      - netvm: {{ whonix.gateway.name|json }}
      - default-dispvm: {{ whonix.disposable.name|json }}
{% if workstation.tags %}
    - tags:
      - add: {{ workstation.tags|json }}
{% endif %}
{% if workstation.features %}
    - features:
      - enable: {{ workstation.features|json }}
{% endif %}
{% if workstation.services %}
    - service:
      - enable: {{ workstation.services|json }}
{% endif %}
    - require:
      - qvm: qubes-whonix-agent-template-workstation-settings
      - qvm: qubes-whonix-agent-gateway
      - qvm: qubes-whonix-agent-disposable
