// Where setup and the test global setup find the seeder; it lives in engine/seed.ts.
export {
  BIG_LAYER_BYTES,
  LESSON_IMAGES,
  type LessonImage,
  type SeedOptions,
  type SeedProgress,
  seedRegistry,
} from '../seed.ts';
