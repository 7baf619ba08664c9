import react from "@vitejs/plugin-react";
import { defineConfig, type UserConfig } from "vite";

// The dashboard SPA. Root is this folder; the build lands in <repo>/dist/dashboard, which the
// API server serves at `/` (hashed files under /assets are public; pages need a session).
// No inline scripts or styles end up in index.html: the server's CSP forbids them
// (script-src 'self'; style-src 'self'), so the module preload polyfill (an inline script in
// some setups) is off and CSS is always emitted as a file.

const root = new URL(".", import.meta.url).pathname;

// Node's process, without pulling Node's types into the browser app's tsconfig.
declare const process: { env: Record<string, string | undefined> };

const config: UserConfig = {
  root,
  base: "/",
  plugins: [react()],
  build: {
    outDir: new URL("../../dist/dashboard", import.meta.url).pathname,
    emptyOutDir: true,
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: true,
  },
  server: {
    // `npx vite --config web/dashboard/vite.config.ts` against a `gotaskq dev` on 8080.
    proxy: {
      "/v1": { target: "http://127.0.0.1:8080" },
      "/auth": { target: "http://127.0.0.1:8080" },
    },
  },
};

export default defineConfig(({ command }) => {
  // Vite, the JSX transform and React choose production or development from NODE_ENV, which
  // test runners set to "test": a build is always the production one (smaller, no dev checks).
  if (command === "build") process.env.NODE_ENV = "production";
  return config;
});
