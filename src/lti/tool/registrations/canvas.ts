import { advantageScopes, toolDescription, toolName, toolUrls } from '../dynamic-registration/service.js';
import { launchHandlers } from '../launch/handlers.js';

/**
 * Canvas's LTI 1.3 developer-key configuration ("Enter URL" in Admin → Developer Keys →
 * + LTI Key): the same URLs Dynamic Registration posts, in Canvas's JSON shape. After saving
 * the key, the Canvas admin registers the platform in Cairn with the key's client id.
 */
export function canvasConfiguration(publicUrl: string): Record<string, unknown> {
  const urls = toolUrls(publicUrl);
  const deepLinking = launchHandlers.some((h) => h.messageType === 'LtiDeepLinkingRequest');
  const placements: Record<string, unknown>[] = [
    { placement: 'link_selection', message_type: deepLinking ? 'LtiDeepLinkingRequest' : 'LtiResourceLinkRequest', target_link_uri: urls.target_link_uri, text: toolName },
    ...(deepLinking ? [{ placement: 'assignment_selection', message_type: 'LtiDeepLinkingRequest', target_link_uri: urls.target_link_uri, text: toolName }] : []),
    { placement: 'course_navigation', message_type: 'LtiResourceLinkRequest', target_link_uri: urls.target_link_uri, text: toolName, default: 'disabled', visibility: 'admins' },
  ];
  return {
    title: toolName,
    description: toolDescription,
    oidc_initiation_url: urls.login_url,
    target_link_uri: urls.target_link_uri,
    redirect_uris: urls.redirect_uris,
    public_jwk_url: urls.jwks_url,
    scopes: [...advantageScopes],
    extensions: [{
      platform: 'canvas.instructure.com',
      domain: urls.domain,
      tool_id: 'cairn',
      // Names and emails let Cairn show learners by name and match rosters.
      privacy_level: 'public',
      settings: { text: toolName, placements },
    }],
    custom_fields: {},
  };
}
