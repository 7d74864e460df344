import { CodedError } from '../../rpc/errors'
import type { HandlerFactory, HandlerTable } from './environment'
export type { HandlerFactory, HandlerTable, ServiceEnvironment } from './environment'

/** The factory of a handler name (the `handler:` of a service in qubes.yaml); the names are listed in agent/features.ts. */
export async function handlerFactory(name: string, handlers: HandlerTable): Promise<HandlerFactory> {
  const load = Object.hasOwn(handlers, name) ? handlers[name] : undefined
  if (!load)
    throw new CodedError(
      'UNKNOWN_HANDLER',
      `no service handler named ${JSON.stringify(name)} (known: ${Object.keys(handlers).join(', ')})`,
    )
  return load()
}
