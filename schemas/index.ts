export * from './common.ts'
export * from './events.ts'
export * from './kb.ts'
export * from './alert.ts'
