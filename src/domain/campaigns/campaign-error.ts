/** Why a campaign operation was refused: the input is invalid, the key is taken, there is no such campaign, or its state forbids it. */
export type CampaignErrorCode = 'invalid' | 'conflict' | 'not_found' | 'state';

/** A refused campaign operation, with the failing fields for `invalid`. The admin API and the chat command word it. */
export class CampaignError extends Error {
  constructor(
    readonly code: CampaignErrorCode,
    message: string,
    readonly issues: Array<{ path: string; message: string }> = [],
  ) {
    super(message);
    this.name = 'CampaignError';
  }
}
