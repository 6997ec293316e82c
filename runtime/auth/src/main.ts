/** Entry point: `PORT=0 DATA_DIR=/tmp/auth node runtime/auth/src/main.ts`. */
import { runService } from '../../lib/server.ts';
import { authService } from './service.ts';

await runService(authService);
