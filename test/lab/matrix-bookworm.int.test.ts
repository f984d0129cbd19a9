/** The fault matrix on the bookworm node (see ./matrix.ts). */
import { defineMatrix } from './matrix.js';

defineMatrix('bookworm');
