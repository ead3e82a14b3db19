/**
 * The words of our own invitation email (INVITE_DELIVERY=mail), one set per language. Edit them
 * here; invitationEmail.ts puts them in the HTML and text layouts and escapes every value it
 * inserts. A language missing here falls back to en-US.
 */

export interface EmailWords {
  subject: (organization: string) => string;
  greeting: (name: string | undefined) => string;
  intro: (organization: string) => string;
  /** Shown above the custom message the inviter wrote. */
  messageHeading: (organization: string) => string;
  button: string;
  /** Under the button: the link as text, for clients that show no buttons. */
  linkHint: string;
  footer: (organization: string) => string;
}

export const EMAIL_WORDS: Readonly<Record<string, EmailWords>> = {
  'en-US': {
    subject: (organization) => `${organization} invited you to collaborate`,
    greeting: (name) => (name ? `Hello ${name},` : 'Hello,'),
    intro: (organization) => `${organization} has invited you to access their apps and resources as a guest.`,
    messageHeading: (organization) => `A message from ${organization}:`,
    button: 'Accept invitation',
    linkHint: 'Or open this link:',
    footer: (organization) =>
      `You received this email because ${organization} invited you. If you did not expect it, you can ignore it: nothing happens until you accept.`,
  },
  'fr-FR': {
    subject: (organization) => `${organization} vous invite à collaborer`,
    greeting: (name) => (name ? `Bonjour ${name},` : 'Bonjour,'),
    intro: (organization) => `${organization} vous invite à accéder à ses applications et ressources en tant qu'invité.`,
    messageHeading: (organization) => `Un message de ${organization} :`,
    button: "Accepter l'invitation",
    linkHint: 'Ou ouvrez ce lien :',
    footer: (organization) =>
      `Vous recevez cet e-mail parce que ${organization} vous a invité. Si vous ne l'attendiez pas, ignorez-le : rien ne se passe tant que vous n'acceptez pas.`,
  },
  'de-DE': {
    subject: (organization) => `${organization} lädt Sie zur Zusammenarbeit ein`,
    greeting: (name) => (name ? `Hallo ${name},` : 'Hallo,'),
    intro: (organization) => `${organization} hat Sie als Gast zu ihren Apps und Ressourcen eingeladen.`,
    messageHeading: (organization) => `Eine Nachricht von ${organization}:`,
    button: 'Einladung annehmen',
    linkHint: 'Oder öffnen Sie diesen Link:',
    footer: (organization) =>
      `Sie erhalten diese E-Mail, weil ${organization} Sie eingeladen hat. Wenn Sie sie nicht erwartet haben, ignorieren Sie sie: Ohne Ihre Zustimmung geschieht nichts.`,
  },
};

export const DEFAULT_LANGUAGE = 'en-US';

/** The words for a messageLanguage: the exact tag, else the same language in another region, else en-US. */
export function wordsFor(language: string | undefined): { language: string; words: EmailWords } {
  const tags = Object.keys(EMAIL_WORDS);
  const wanted = language?.toLowerCase();
  const exact = tags.find((tag) => tag.toLowerCase() === wanted);
  const sameLanguage = wanted ? tags.find((tag) => tag.split('-')[0]!.toLowerCase() === wanted.split('-')[0]) : undefined;
  const tag = exact ?? sameLanguage ?? DEFAULT_LANGUAGE;
  return { language: tag, words: EMAIL_WORDS[tag]! };
}
