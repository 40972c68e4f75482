// Writes docs/openapi.json from the route schemas (`npm run openapi`).
import { writeFile } from 'node:fs/promises';
import { openApiDocument } from '../src/api/openapi.js';

const file = new URL('../docs/openapi.json', import.meta.url);
await writeFile(file, JSON.stringify(await openApiDocument(), null, 2) + '\n');
console.log(`wrote ${file.pathname}`);
