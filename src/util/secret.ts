import { inspect } from 'node:util'

const MASK = '[masked]'

/**
 * A credential that cannot end up in a log line by accident: JSON (pino, a
 * printed config), util.inspect (console.log) and string interpolation all
 * show `[masked]`; the value sits in a private field, so spreading or walking
 * the object does not find it either. The one place that hands it to a client
 * calls `reveal()`.
 */
export class Secret {
  readonly #value: string
  constructor(value: string) {
    this.#value = value
  }
  reveal(): string {
    return this.#value
  }
  toJSON(): string {
    return MASK
  }
  toString(): string {
    return MASK
  }
  [inspect.custom](): string {
    return MASK
  }
}
