// Layerlab's lesson components, for `import { Terminal, LayerStack } from '…/site/src/components'`.

export { default as Answer } from './Answer.astro';
export { default as Check } from './Check.astro';
export { default as DiffPanel } from './DiffPanel.astro';
export { default as Editor } from './Editor.astro';
export { default as HostView } from './HostView.astro';
export { default as ImageGraph } from './ImageGraph.astro';
export { default as LayerStack } from './LayerStack.astro';
export { default as LessonStart } from './LessonStart.astro';
export { default as Predict } from './Predict.astro';
export { default as PullInspector } from './PullInspector.astro';
export { default as SizeBars } from './SizeBars.astro';
export { default as Terminal } from './Terminal.astro';
