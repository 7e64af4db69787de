// Registers a custom element once, even when two bundles of the page carry the same module.

export function defineOnce(name: string, ctor: CustomElementConstructor): void {
  if (!customElements.get(name)) customElements.define(name, ctor);
}
