"""Renders Salt state, top and pillar files the way a Salt minion does (jinja, then yaml),
with Debian's real Jinja2 and PyYAML and a stand-in for the parts of Salt's render context
the formula uses. Reads one JSON request on stdin, writes one JSON answer on stdout.

Request: {"stateRoot": DIR, "pillarRoot": DIR, "grains": {...},
          "pillar": {...} or null (null: compile it from the pillar top file, as Salt does),
          "sls": [NAME, ...], "tops": [PATH, ...]}
Answer:  {"ok": true, "pillar": {...}, "sls": {NAME: {"order": [SLS...], "states": [...]}},
          "tops": {PATH: DATA}}  or  {"ok": false, "error": TEXT}
"""

import copy
import hashlib
import json
import os
import sys
from collections.abc import Mapping

import jinja2
import jinja2.ext
import yaml
from jinja2 import nodes

# Salt's loader refuses a mapping with a key twice ("conflicting ID"); PyYAML keeps the last.
class SaltYamlLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        mapping = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    context=None, context_mark=None,
                    problem=f"found conflicting ID '{key}'", problem_mark=key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


SaltYamlLoader.add_constructor('tag:yaml.org,2002:map', SaltYamlLoader.construct_mapping)


def load_yaml(text):
    return yaml.load(text, Loader=SaltYamlLoader)


def traverse(data, key, default, delimiter=':'):
    """salt.utils.data.traverse_dict_and_list: 'a:b:0' walks dicts, and lists by index."""
    ptr = data
    for part in key.split(delimiter):
        if isinstance(ptr, list):
            try:
                ptr = ptr[int(part)]
            except (ValueError, IndexError):
                return default
        elif isinstance(ptr, Mapping):
            if part not in ptr:
                return default
            ptr = ptr[part]
        else:
            return default
    return ptr


def dict_update(dest, upd, merge_lists=False):
    """salt.utils.dictupdate.update: recursive; lists replaced unless merge_lists."""
    for key, value in upd.items():
        current = dest.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            dest[key] = dict_update(current, value, merge_lists)
        elif merge_lists and isinstance(current, list) and isinstance(value, list):
            dest[key] = current + [item for item in value if item not in current]
        else:
            dest[key] = value
    return dest


def make_getter(source):
    def get(key, default='', merge=False, merge_nested_lists=None, delimiter=':', **_ignored):
        # pillar.get with merge: a dict default is deep-copied and updated from the value
        # found; when the found value is not a dict Salt logs and returns it unmerged.
        if merge and isinstance(default, Mapping):
            found = traverse(source, key, {}, delimiter)
            if isinstance(found, Mapping):
                return dict_update(copy.deepcopy(default), found, bool(merge_nested_lists))
        elif merge and isinstance(default, list):
            found = traverse(source, key, [], delimiter)
            if isinstance(found, list):
                merged = copy.deepcopy(default)
                merged.extend(item for item in found if item not in merged)
                return merged
        return traverse(source, key, default, delimiter)
    return get


class SaltSerializers(jinja2.ext.Extension):
    """Salt's SerializerExtension tags the formula may use: import_yaml, import_text,
    load_yaml; plus its json and yaml filters."""

    tags = {'import_yaml', 'import_text', 'load_yaml'}

    def __init__(self, environment):
        super().__init__(environment)
        environment.filters['json'] = lambda value, sort_keys=True, indent=None: json.dumps(
            value, sort_keys=sort_keys, indent=indent)
        environment.filters['yaml'] = lambda value, flow_style=True: yaml.safe_dump(
            value, default_flow_style=flow_style).strip()
        # Salt's hashing filter: the hex SHA-256 of the text's UTF-8 bytes.
        environment.filters['sha256'] = lambda value: hashlib.sha256(str(value).encode()).hexdigest()

    def parse(self, parser):
        token = next(parser.stream)
        if token.value == 'load_yaml':
            parser.stream.expect('name:as')
            target = parser.parse_assign_target()
            body = parser.parse_statements(('name:endload',), drop_needle=True)
            text = nodes.Name(target.name + '__text', 'store').set_lineno(token.lineno)
            return [
                nodes.AssignBlock(text, None, body).set_lineno(token.lineno),
                nodes.Assign(target, self.call_method(
                    '_from_yaml', [nodes.Name(text.name, 'load')])).set_lineno(token.lineno),
            ]
        source = parser.parse_expression()
        parser.stream.expect('name:as')
        target = parser.parse_assign_target()
        method = '_import_yaml' if token.value == 'import_yaml' else '_import_text'
        return nodes.Assign(target, self.call_method(method, [source])).set_lineno(token.lineno)

    def _from_yaml(self, text):
        return load_yaml(str(text))

    # import_yaml renders the file as a template of its own (no context), then loads it.
    def _import_yaml(self, name):
        return load_yaml(self.environment.get_template(name).render())

    def _import_text(self, name):
        return self.environment.get_template(name).render()


def environment(root):
    # Salt's defaults: StrictUndefined unless allow_undefined, no trim/lstrip of blocks.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        undefined=jinja2.StrictUndefined,
        extensions=['jinja2.ext.do', SaltSerializers],
        
    )


def render_file(root, relpath, pillar, grains, sls=''):
    env = environment(root)
    tpldir = os.path.dirname(relpath)
    context = {
        'salt': {'pillar.get': make_getter(pillar), 'grains.get': make_getter(grains)},
        'pillar': pillar,
        'grains': grains,
        'opts': {'id': grains.get('id'), 'renderer': 'jinja|yaml'},
        'saltenv': 'base',
        'sls': sls,
        'slspath': tpldir,
        'tpldir': tpldir,
        'tplfile': relpath,
        'tplpath': os.path.join(root, relpath),
    }
    with open(os.path.join(root, relpath), encoding='utf-8') as handle:
        source = handle.read()
    if source.startswith('#!'):
        raise ValueError(f'{relpath}: renderer shebangs are not emulated')
    text = env.from_string(source).render(context)
    data = load_yaml(text)
    return {} if data is None else data


def sls_path(root, name):
    base = name.replace('.', '/')
    for candidate in (base + '.sls', base + '/init.sls'):
        if os.path.isfile(os.path.join(root, candidate)):
            return candidate
    raise FileNotFoundError(f"no SLS '{name}' under {root}")


def compile_sls(root, name, pillar, grains):
    """Renders an SLS and, depth first, everything it includes, each once (as state.sls)."""
    order, states, seen = [], [], set()

    def visit(sls):
        if sls in seen:
            return
        seen.add(sls)
        data = render_file(root, sls_path(root, sls), pillar, grains, sls)
        if not isinstance(data, Mapping):
            raise ValueError(f'SLS {sls} does not render to a dictionary')
        includes = data.get('include', [])
        if not isinstance(includes, list):
            raise ValueError(f'SLS {sls}: include is not a list')
        for included in includes:
            visit(included)
        order.append(sls)
        for state_id, body in data.items():
            if state_id not in ('include', 'extend'):
                states.append({'sls': sls, 'id': state_id, 'body': body})
            elif state_id == 'extend':
                raise ValueError(f'SLS {sls}: extend is not emulated')

    visit(name)
    return {'order': order, 'states': states}


def compile_pillar(root, grains):
    """The pillar top file matched on the minion id ('*' or the id), then its SLS, merged."""
    pillar = {}
    for dirpath, _dirs, files in sorted(os.walk(root)):
        for top in sorted(f for f in files if f.endswith('.top')):
            relpath = os.path.relpath(os.path.join(dirpath, top), root)
            targets = render_file(root, relpath, {}, grains).get('base', {})
            for target, names in targets.items():
                if target not in ('*', grains.get('id')):
                    continue
                for name in names:
                    if isinstance(name, str):
                        dict_update(pillar, render_file(root, sls_path(root, name), pillar, grains, name))
    return pillar


def main():
    request = json.load(sys.stdin)
    grains = request.get('grains', {})
    pillar = request.get('pillar')
    if pillar is None:
        pillar = compile_pillar(request['pillarRoot'], grains)
    root = request['stateRoot']
    answer = {'ok': True, 'pillar': pillar, 'sls': {}, 'tops': {}}
    for name in request.get('sls', []):
        answer['sls'][name] = compile_sls(root, name, pillar, grains)
    for path in request.get('tops', []):
        answer['tops'][path] = render_file(root, path, pillar, grains)
    return answer


if __name__ == '__main__':
    try:
        result = main()
    except Exception as error:  # every failure becomes a one-line answer the test prints
        result = {'ok': False, 'error': f'{type(error).__name__}: {error}'}
    json.dump(result, sys.stdout, default=str)
