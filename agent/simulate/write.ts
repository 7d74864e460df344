import { writeFileAtomic } from '../fs/atomic-write'

/** Every file of a simulation is put in place whole (agent/fs), so building again gives the same tree. */
export const writeSimulatedFile = (file: string, content: string, mode = 0o644) =>
  writeFileAtomic(file, content, { mode, directoryMode: 0o755, replaceLink: true })
