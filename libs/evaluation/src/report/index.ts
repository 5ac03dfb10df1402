export * from './render-report';
export * from './sample-panels';
export { matchPolygons, MATCH_IOU, type PolygonMatch } from './polygon-match';
