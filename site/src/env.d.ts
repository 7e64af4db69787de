// Ambient types for the site: Astro (including `.astro` modules) and Starlight's `Astro.locals`.
/// <reference types="astro/client" />
/// <reference types="@astrojs/starlight/locals" />
