// Ambient types for the site: Astro, Starlight's `Astro.locals` (its package entry declares them),
// and `.astro` modules as opaque components, so `tsc -p site` checks the site's TypeScript.
/// <reference types="astro/client" />
/// <reference types="@astrojs/starlight" />

declare module '*.astro' {
  // biome-ignore lint/suspicious/noExplicitAny: Astro components take any props; astro build checks them.
  const Component: (props: any) => any;
  export default Component;
}
