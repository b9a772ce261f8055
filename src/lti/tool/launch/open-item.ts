import type { LaunchHandlerContext } from './handlers.js';

/**
 * Where a launched course item opens directly, or undefined for the course page. SCORM items
 * go to the player on the content origin once the SCORM runtime's launch function is wired in
 * here; until then the course page lists the item.
 */
export async function openItem(_ctx: LaunchHandlerContext): Promise<string | undefined> {
  return undefined;
}
