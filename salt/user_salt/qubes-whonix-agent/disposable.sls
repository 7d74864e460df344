# The Whonix-Workstation disposable template: anonymous, its disposables use sys-whonix.
{% from 'qubes-whonix-agent/map.jinja' import whonix with context %}
{% set dvm = whonix.disposable %}

include:
  - qubes-whonix-agent.templates
  - qubes-whonix-agent.gateway

qubes-whonix-agent-disposable:
  qvm.vm:
    - name: {{ dvm.name|json }}
    - present:
      - template: {{ whonix.templates.workstation.name|json }}
      - label: {{ dvm.label|json }}
{% if dvm.memory %}
      - mem: {{ dvm.memory|json }}
{% endif %}
    - prefs:
      - label: {{ dvm.label|json }}
{% if dvm.memory %}
      - memory: {{ dvm.memory|json }}
{% endif %}
      - netvm: {{ whonix.gateway.name|json }}
      - template-for-dispvms: true
{% if dvm.tags %}
    - tags:
      - add: {{ dvm.tags|json }}
{% endif %}
{% if dvm.features %}
    - features:
      - enable: {{ dvm.features|json }}
{% endif %}
{% if dvm.services %}
    - service:
      - enable: {{ dvm.services|json }}
{% endif %}
    - require:
      - qvm: qubes-whonix-agent-template-workstation-settings
      - qvm: qubes-whonix-agent-gateway

# Disposables started from one of its disposables stay Whonix-Workstations. A state of
# its own: the qvm module sets default-dispvm before template-for-dispvms.
qubes-whonix-agent-disposable-default-dispvm:
  qvm.prefs:
    - name: {{ dvm.name|json }}
    - default-dispvm: {{ dvm.name|json }}
    - require:
      - qvm: qubes-whonix-agent-disposable
