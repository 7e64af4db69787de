// The Layerlab site: Starlight over the MDX lessons in ../content/lessons, with the live components
// (terminals, pictures, checks) and the click-to-run code blocks. `npx astro build --root site`.

import { fileURLToPath } from 'node:url';
import mdx from '@astrojs/mdx';
import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';
import { pluginRunButton } from './src/plugins/run-button.mjs';

export default defineConfig({
  site: 'http://localhost:8080',
  outDir: './dist',
  // The lessons live outside the app (../content); Vite must be allowed to read them.
  vite: {
    server: { fs: { allow: ['..'] } },
    resolve: {
      alias: [
        // Astro 7.3.0's image module imports this path, which its package.json does not export.
        {
          find: 'astro/_internal/logger',
          replacement: fileURLToPath(
            new URL('../node_modules/astro/dist/core/logger/core.js', import.meta.url),
          ),
        },
        // Starlight's search UI is built when the reader reaches for search, not on every page load.
        {
          find: /^@pagefind\/default-ui$/,
          replacement: fileURLToPath(new URL('./src/client/pagefind-ui.ts', import.meta.url)),
        },
      ],
    },
  },
  integrations: [
    starlight({
      title: 'Layerlab',
      description: 'Learn container images and containers by driving a real engine from the page.',
      defaultLocale: 'root',
      locales: { root: { label: 'English', lang: 'en' } },
      customCss: ['./src/styles/theme.css', './src/styles/components.css', './src/styles/run-blocks.css'],
      // The lesson order comes from each lesson's `lesson.order`: see src/route-data.ts.
      routeMiddleware: './src/route-data.ts',
      sidebar: [{ label: 'Sandbox', link: '/sandbox/' }],
      lastUpdated: false,
      pagination: true,
      expressiveCode: {
        themes: ['github-light', 'github-dark-dimmed'],
        useStarlightDarkModeSwitch: true,
        plugins: [pluginRunButton()],
        styleOverrides: { borderRadius: '0.4rem', codeFontSize: '0.875rem' },
      },
    }),
    mdx(),
  ],
});
