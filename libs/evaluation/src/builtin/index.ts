import type { BuiltinDataset } from './builtin-dataset';
import { middleburyMotorcycle } from './middlebury-motorcycle.dataset';
import { petComposites } from './pet-composites.dataset';
import { photosX3 } from './photos-x3.dataset';
import { textLines } from './text-lines.dataset';
import { textOrientation } from './text-orientation.dataset';

export * from './builtin-dataset';
export * from './text-image';
export { VOC_LABELS } from './pet-composites.dataset';

/** The datasets Fathom ships as recipes, one per task. */
export const BUILTIN_DATASETS: readonly BuiltinDataset[] = [middleburyMotorcycle, petComposites, textOrientation, textLines, photosX3];

export function builtinDataset(name: string): BuiltinDataset | undefined {
  return BUILTIN_DATASETS.find((d) => d.name === name);
}
