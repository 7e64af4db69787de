// `layerlab tag SOURCE TARGET`: another name for an image in the store.
import { tag } from '../../image/tag.ts';
import type { Command } from '../cli.ts';

export const command: Command = {
  spec: {
    name: 'tag',
    usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
    description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
    minArgs: 2,
    maxArgs: 2,
    flags: [],
  },
  async run(cli, parsed) {
    await tag(cli.context(), parsed.args[0]!, parsed.args[1]!);
    return 0;
  },
};
