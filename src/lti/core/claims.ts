/**
 * LTI 1.3 claim names and one type per claim (LTI Core 1.3 §5, Deep Linking 2.0, AGS 2.0,
 * NRPS 2.0). Both roles use these: the tool reads them from a platform's id_token, the
 * platform (a later issue) writes them into its own.
 */
export const ltiVersion = '1.3.0';

const lti = 'https://purl.imsglobal.org/spec/lti/claim/';
export const claimNames = {
  messageType: `${lti}message_type`,
  version: `${lti}version`,
  deploymentId: `${lti}deployment_id`,
  targetLinkUri: `${lti}target_link_uri`,
  resourceLink: `${lti}resource_link`,
  roles: `${lti}roles`,
  roleScopeMentor: `${lti}role_scope_mentor`,
  context: `${lti}context`,
  toolPlatform: `${lti}tool_platform`,
  launchPresentation: `${lti}launch_presentation`,
  lis: `${lti}lis`,
  custom: `${lti}custom`,
  // Deep Linking 2.0
  deepLinkingSettings: 'https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings',
  // Assignment and Grade Services 2.0
  agsEndpoint: 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint',
  // Names and Role Provisioning Services 2.0
  nrps: 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice',
} as const;

export const messageTypes = ['LtiResourceLinkRequest', 'LtiDeepLinkingRequest'] as const;
export type MessageType = (typeof messageTypes)[number];

export interface ResourceLinkClaim {
  readonly id: string;
  readonly title?: string;
  readonly description?: string;
}

export interface ContextClaim {
  readonly id: string;
  readonly label?: string;
  readonly title?: string;
  readonly type?: readonly string[];
}

export interface ToolPlatformClaim {
  readonly guid?: string;
  readonly name?: string;
  readonly version?: string;
  readonly product_family_code?: string;
  readonly contact_email?: string;
  readonly url?: string;
}

export interface LaunchPresentationClaim {
  readonly document_target?: 'frame' | 'iframe' | 'window';
  readonly height?: number;
  readonly width?: number;
  readonly return_url?: string;
  readonly locale?: string;
}

export interface AgsEndpointClaim {
  readonly scope: readonly string[];
  readonly lineitems?: string;
  readonly lineitem?: string;
}

export interface NrpsClaim {
  readonly context_memberships_url: string;
  readonly service_versions: readonly string[];
}

export interface DeepLinkingSettingsClaim {
  readonly deep_link_return_url: string;
  readonly accept_types: readonly string[];
  readonly accept_presentation_document_targets: readonly string[];
  readonly accept_media_types?: string;
  readonly accept_multiple?: boolean;
  readonly accept_lineitem?: boolean;
  readonly auto_create?: boolean;
  readonly title?: string;
  readonly text?: string;
  readonly data?: string;
}

/** The validated content of an LTI message, claims renamed for code, the raw payload kept. */
export interface LtiMessage {
  readonly issuer: string;
  readonly clientId: string;
  readonly subject: string | undefined;
  readonly messageType: MessageType;
  readonly version: string;
  readonly deploymentId: string;
  readonly targetLinkUri: string;
  /** Every role as sent, expanded to full URIs (see roles.ts). */
  readonly roles: readonly string[];
  readonly resourceLink: ResourceLinkClaim | undefined;
  readonly context: ContextClaim | undefined;
  readonly toolPlatform: ToolPlatformClaim | undefined;
  readonly launchPresentation: LaunchPresentationClaim | undefined;
  readonly custom: Readonly<Record<string, string>>;
  readonly agsEndpoint: AgsEndpointClaim | undefined;
  readonly nrps: NrpsClaim | undefined;
  readonly deepLinkingSettings: DeepLinkingSettingsClaim | undefined;
  readonly name: string | undefined;
  readonly givenName: string | undefined;
  readonly familyName: string | undefined;
  readonly email: string | undefined;
  readonly nonce: string;
  readonly payload: Readonly<Record<string, unknown>>;
}
