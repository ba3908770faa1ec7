import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))

// The console is served by the API from web/dist at `/` (src/api/console.ts).
// `vite web` proxies the API to a running `npm start` for development.
export default defineConfig({
  root,
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // A tool opened all day from the same origin: one small bundle, no source maps shipped.
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
  server: {
    proxy: { '/api': { target: process.env.FUNDWATCH_API ?? 'http://127.0.0.1:8080', changeOrigin: false } },
  },
})
