// `layerlab unpause CONTAINER...`: thaw containers `pause` froze.
import type { Command } from '../cli.ts';
import { pauseCommand } from './pause.ts';

export const command: Command = pauseCommand('unpause');
