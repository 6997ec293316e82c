/** Entry point: `PORT=0 DATA_DIR=/tmp/content node runtime/content/src/main.ts`. */
import { runService } from '../../lib/server.ts';
import { contentService } from './service.ts';

await runService(contentService);
