// `layerlab image inspect IMAGE...`: Docker's image inspect JSON, or a `--format` template per image.
import type { Command } from '../cli.ts';
import { inspectCommand } from './inspect.ts';

export const command: Command = inspectCommand('image inspect', 'image');
