import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The build lands in dist/, which the service serves: the page at /console, its script and style
// at /console/static/ under fixed names (committed, so `make run` needs no Node.js).
export default defineConfig(({ command }) => ({
  plugins: [react()],
  base: command === "build" ? "/console/static/" : "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "",
    chunkSizeWarningLimit: 800, // one script for the whole console (about 180 kB gzipped, most of it the charts)
    rolldownOptions: {
      output: { entryFileNames: "console.js", chunkFileNames: "[name].js", assetFileNames: "console[extname]" },
    },
  },
  // `npm run dev`: the console at http://localhost:5173/console from Vite, every route of the
  // service from `make run` on port 5000.
  server: { proxy: { "^/(?!console|src/|@|node_modules/)": "http://127.0.0.1:5000" } },
  test: { environment: "jsdom", setupFiles: ["src/test/setup.ts"] },
}));
