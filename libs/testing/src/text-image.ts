// Rendered text lines live with the built-in datasets that are made of them; tests keep importing them from here.
export { renderTextImage, type Box } from '@fathom/evaluation';
