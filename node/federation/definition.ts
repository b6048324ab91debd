// Placeholder with the agreed interface; replaced by the fedcli branch.
export type FederationMember = {calendarId: string; url: string; p2p: string[]; rank: number};
export type FederationDefinition = {version: 1; name: string; members: FederationMember[]};
export function federationTopic(def: {name: string}, kind: string, version = 1): string {
  return `/otsfed/${def.name}/${kind}/${version}`;
}
