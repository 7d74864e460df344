// Copies the qrexec policy file the agent generates from qubes.yaml into the Salt formula
// (salt/user_salt/qubes-whonix-agent/files/), byte for byte. Run after `npm run build`
// (`npm run salt-policy` does both); test/salt/policy.test.ts fails when the copy is stale.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const agent = join(repo, 'dist/qubes-whonix-agent.mjs')
const filesDir = join(repo, 'salt/user_salt/qubes-whonix-agent/files')
const defaults = readFileSync(join(repo, 'salt/user_salt/qubes-whonix-agent/defaults.yaml'), 'utf8')
const POLICY = /^\/etc\/qubes\/policy\.d\/\d+-[^/]+\.policy$/

const fail = (message) => {
  console.error(`salt-policy: ${message}`)
  process.exit(1)
}

const listed = JSON.parse(execFileSync(process.execPath, [agent, 'files', 'list', '--json'], { encoding: 'utf8' }))
const policies = listed.filter((file) => POLICY.test(file.path))
if (policies.length !== 1) fail(`expected one generated file matching ${POLICY}, found ${policies.length}`)
const { path } = policies[0]

// `files write` gives the exact bytes (`files show` prints for a terminal).
const staging = mkdtempSync(join(tmpdir(), 'salt-policy-'))
let content
try {
  execFileSync(process.execPath, [agent, 'files', 'write', staging], { stdio: 'ignore' })
  content = readFileSync(join(staging, path))
} finally {
  rmSync(staging, { recursive: true, force: true })
}

mkdirSync(filesDir, { recursive: true })
for (const stale of readdirSync(filesDir).filter((name) => name.endsWith('.policy') && name !== basename(path)))
  rmSync(join(filesDir, stale))
writeFileSync(join(filesDir, basename(path)), content)
console.log(
  `wrote ${join('salt/user_salt/qubes-whonix-agent/files', basename(path))} (${content.length} bytes, from ${path})`,
)
if (!defaults.includes(`path: ${path}`) || !defaults.includes(`file: qubes-whonix-agent/files/${basename(path)}`))
  fail(`defaults.yaml must name policy path ${path} and file qubes-whonix-agent/files/${basename(path)}; update it`)
