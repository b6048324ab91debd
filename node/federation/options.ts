// Placeholder with the agreed interface; replaced by the fedcli branch.
export type FederationOptions = {
  file: string;
  p2pListen: string[];
  mirrorOnly: boolean;
};
export const defaultFederationOptions: FederationOptions = {file: "", p2pListen: ["/ip4/127.0.0.1/tcp/0"], mirrorOnly: false};
