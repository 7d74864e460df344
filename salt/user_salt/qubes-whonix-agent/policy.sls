# The qrexec policy of qubes-whonix-agent (Qubes 4.2 format), byte for byte what the
# agent generates from qubes.yaml (`npm run salt-policy` refreshes the copy in files/).
# Its number places it before Qubes' own files, where the first matching line wins.
{% from 'qubes-whonix-agent/map.jinja' import whonix with context %}
{% import_text whonix.policy.file as policy_text %}
{% set words = policy_text.split() %}
{% set problems = [] %}
{% if ('target=' ~ whonix.gateway.name) not in words %}
{%   do problems.append('it sends no call to ' ~ whonix.gateway.name) %}
{% endif %}
{% if ('@tag:' ~ whonix.templates.updates_tag) not in words %}
{%   do problems.append('it names no @tag:' ~ whonix.templates.updates_tag) %}
{% endif %}

{% if problems %}
# The policy names qubes from qubes.yaml; a pillar that renames them needs a policy
# generated from a qubes.yaml that agrees (qubes-whonix-agent --config FILE files show PATH).
qubes-whonix-agent-policy:
  test.fail_without_changes:
    - name: {{ ('The policy file ' ~ whonix.policy.file ~ ' disagrees with the pillar: ' ~ problems|join('; '))|json }}
{% else %}
qubes-whonix-agent-policy:
  file.managed:
    - name: {{ whonix.policy.path|json }}
    - source: {{ ('salt://' ~ whonix.policy.file)|json }}
    - user: root
    - group: root
    - mode: '0644'
{% endif %}
