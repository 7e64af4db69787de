// `layerlab container inspect CONTAINER...`: Docker's container inspect JSON (or -f template).
import type { Command } from '../cli.ts';
import { inspectCommand } from './inspect.ts';

export const command: Command = inspectCommand('container inspect', 'container');
