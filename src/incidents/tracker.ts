/**
 * What `incident file-actions` needs of an issue tracker: find the follow-ups it already filed
 * (by the item keys it stored on them) and file a new one. GitHub Issues and Jira Cloud implement
 * it under `trackers/`; the filing logic in `file-actions.ts` never knows which one it talks to.
 */

/** One issue to file. */
export interface FollowUp {
  /** The action item's stable key (see action-items.ts); stored on the issue. */
  key: string;
  title: string;
  /** Plain text paragraphs; each tracker renders them in its own markup. */
  body: string[];
  /** Owners of the affected services, as platform.yaml names them. */
  owners: string[];
}

/** An issue that exists in the tracker. */
export interface FiledIssue {
  key: string;
  /** The tracker's own id: `#12` on GitHub, `OPS-7` on Jira. */
  ref: string;
  url: string;
}

/** A tracker the follow-ups can be filed in. */
export interface Tracker {
  readonly kind: 'github' | 'jira';
  /** Where issues go, for messages: `owner/name` or `site project KEY`. */
  readonly target: string;
  /** The follow-ups filed earlier, by item key (one listing per run, not one query per item). */
  filed(): Promise<Map<string, FiledIssue>>;
  create(item: FollowUp): Promise<FiledIssue>;
}

/** The marker label every follow-up carries, so a tracker can list them in one query. */
export const FOLLOW_UP_LABEL = 'incident-follow-up';
