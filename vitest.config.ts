import { defineConfig } from 'vitest/config'

// chDB binds one data directory per process (two paths opened from two threads
// of one process hang), so every test file runs in its own forked process with
// its own directory and database (see test/helpers/app.ts).
const shared = { pool: 'forks' as const, testTimeout: 60_000, hookTimeout: 180_000 }

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: { ...shared, name: 'unit', include: ['test/**/*.test.ts', 'detectors/**/*.test.ts'], exclude: ['test/kafka/**', 'test/harness/**', 'test/browser/**'] },
      },
      {
        // Kafka suites share one real broker, started once by the global setup
        // (KAFKA_BROKERS, else testcontainers where Docker answers, else a local
        // KRaft broker from Maven Central's artifacts).
        test: { ...shared, name: 'kafka', include: ['test/kafka/**/*.test.ts', 'test/harness/**/*.test.ts'], globalSetup: ['test/global-setup.ts'], fileParallelism: false },
      },
      {
        test: { ...shared, name: 'browser', include: ['test/browser/**/*.test.ts'], fileParallelism: false },
      },
    ],
  },
})
