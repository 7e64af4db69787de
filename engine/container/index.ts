// The container API in one import, for the CLI and the server.

export * from './lifecycle.ts';
export { randomName, validateName } from './names.ts';
export { type ContainerRecord, type ContainerStatus, OWNER_LABEL } from './record.ts';
export * from './views.ts';
