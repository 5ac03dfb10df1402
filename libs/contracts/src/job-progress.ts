import { z } from 'zod';

/** Stage boundaries a worker reports, in order. */
export const jobStageSchema = z.enum(['fetch', 'decode', 'preprocess', 'inference', 'postprocess', 'encode', 'store']);
export type JobStage = z.infer<typeof jobStageSchema>;

export const JOB_STAGES = jobStageSchema.options;

export const jobProgressSchema = z.object({
  /** The stage now starting. */
  stage: jobStageSchema,
  /** 0..100, by stage boundaries. */
  percent: z.number().min(0).max(100),
});
export type JobProgress = z.infer<typeof jobProgressSchema>;

export function progressAt(stage: JobStage): JobProgress {
  const index = JOB_STAGES.indexOf(stage);
  return { stage, percent: Math.round((index / JOB_STAGES.length) * 100) };
}
