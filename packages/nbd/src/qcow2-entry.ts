/** `@bp/nbd/qcow2`: the direct qcow2 writer, the image reader and the header check. */
export * from './qcow2/index.js';
