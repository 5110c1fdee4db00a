// Request size limit shared by the JSON API and webhook ingestion.
export const MAX_BODY_BYTES = 1024 * 1024;
