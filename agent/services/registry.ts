import { CodedError } from '../../rpc/errors'
import type { HandlerFactory } from './environment'
export type { HandlerFactory, ServiceEnvironment } from './environment'

/** The factory of a handler name (the `handler:` of a service in qubes.yaml); the names are listed in agent/features.ts. */
export function handlerFactory(name: string, handlers: Readonly<Record<string, HandlerFactory>>): HandlerFactory {
  const factory = Object.hasOwn(handlers, name) ? handlers[name] : undefined
  if (!factory)
    throw new CodedError(
      'UNKNOWN_HANDLER',
      `no service handler named ${JSON.stringify(name)} (known: ${Object.keys(handlers).join(', ')})`,
    )
  return factory
}
