import { version } from '../package.json'

/** The agent's version (package.json), for --version. */
export const AGENT_VERSION: string = version
