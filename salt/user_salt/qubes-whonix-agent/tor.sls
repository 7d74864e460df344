# Tor on sys-whonix, through the gateway's whonix.Tor service (dom0 calls it with qvm-run
# --service, which starts the qube if needed). A state runs only when the gateway's status
# says otherwise, so a second run changes nothing; a null pillar value adds no state.
{% from 'qubes-whonix-agent/map.jinja' import whonix with context %}
{% set tor = whonix.tor %}
{% set call = 'qvm-run --pass-io --no-gui --service ' ~ whonix.gateway.name ~ ' whonix.Tor+' %}
{% set answered_ok = " | grep -qF '\"ok\":true'" %}
{% set status = call ~ 'status < /dev/null | grep -qF ' %}
{% if tor.bridges is not none %}
qubes-whonix-agent-tor-bridges:
  cmd.run:
{%   if tor.bridges %}
{%     set lines = tor.bridges|join('\n') ~ '\n' %}
    - name: {{ (call ~ 'bridges-set' ~ answered_ok)|json }}
    - stdin: {{ lines|json }}
    - unless: {{ (status ~ "'\"digest\":\"" ~ lines|sha256 ~ "\"'")|json }}
{%   else %}
    - name: {{ (call ~ 'bridges-clear < /dev/null' ~ answered_ok)|json }}
    - unless: {{ (status ~ "'\"bridges\":{\"count\":0,'")|json }}
{%   endif %}
    - require:
      - qvm: qubes-whonix-agent-gateway
{% endif %}
{% if tor.enabled is not none %}
{%   set wanted = 'true' if tor.enabled else 'false' %}
qubes-whonix-agent-tor-network:
  cmd.run:
    - name: {{ (call ~ ('enable' if tor.enabled else 'disable') ~ ' < /dev/null' ~ answered_ok)|json }}
    - unless: {{ (status ~ "'\"result\":{\"enabled\":" ~ wanted ~ ",'")|json }}
    - require:
      - qvm: qubes-whonix-agent-gateway
{%   if tor.bridges is not none %}
      - cmd: qubes-whonix-agent-tor-bridges
{%   endif %}
{% endif %}
