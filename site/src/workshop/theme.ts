// The classroom pages follow the site's dark/light choice: Starlight keeps it in localStorage
// (`starlight-theme`: "dark", "light" or "" for the system's); without one the pages' CSS follows the
// system. Loaded first and not deferred, so the page never flashes the other scheme.

try {
  const chosen = localStorage.getItem('starlight-theme');
  if (chosen === 'dark' || chosen === 'light') document.documentElement.dataset.theme = chosen;
} catch {
  // Storage refused (private mode): the system's scheme it is.
}
