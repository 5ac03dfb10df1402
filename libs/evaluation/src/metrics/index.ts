export * from './depth.metrics';
export * from './segmentation.metrics';
export * from './classification.metrics';
export * from './text-detection.metrics';
export * from './image-to-image.metrics';
export * from './scorers';
export * from './comparison';
export * from './latency';
