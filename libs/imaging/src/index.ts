export * from './colormaps';
