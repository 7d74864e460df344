# sys-whonix: the Whonix-Gateway, a network-providing qube that starts with the system.
{% from 'qubes-whonix-agent/map.jinja' import whonix with context %}
{% set gateway = whonix.gateway %}

include:
  - qubes-whonix-agent.templates

qubes-whonix-agent-gateway:
  qvm.vm:
    - name: {{ gateway.name|json }}
    - present:
      - template: {{ whonix.templates.gateway.name|json }}
      - label: {{ gateway.label|json }}
{% if gateway.memory %}
      - mem: {{ gateway.memory|json }}
{% endif %}
    # Also on an existing qube, so that the pillar is what the qube gets.
    - prefs:
      - label: {{ gateway.label|json }}
{% if gateway.memory %}
      - memory: {{ gateway.memory|json }}
{% endif %}
      - netvm: {{ gateway.netvm|json }}
      - provides-network: true
      - autostart: {{ gateway.autostart|json }}
{% if gateway.features %}
    - features:
      - enable: {{ gateway.features|json }}
{% endif %}
{% if gateway.services %}
    - service:
      - enable: {{ gateway.services|json }}
{% endif %}
    - require:
      - qvm: qubes-whonix-agent-template-gateway-settings
