"""The user's language, and the few sentences the assistant writes itself, in that language.

Casual French ("si il …", "c quoi", "pr", "slt") fooled the old word-count-then-langdetect
guess, which took it for Spanish or Italian. Lingua, a maintained detector, is asked to
choose among the answered languages only, and the telling words of each language nudge
its confidences (0.1 a word: on the training questions this left 2 wrong of 1,563 where
Lingua alone left 5; no dev question is wrong either way). A message too short or unclear
to tell (under ``SHORT`` words, or its best confidence under ``UNSURE``) is read with the
user's earlier messages,
so that "ok merci" or "Comment Text 4 2 0 0" does not switch a conversation's language.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import lru_cache

__all__ = [
    "SUPPORTED",
    "detect_language",
    "language_confidences",
    "message",
    "translated",
    "unsupported_language",
]

SUPPORTED = ("en", "fr", "es", "pt", "ar")
UNSURE = 0.5
SHORT = 4  # words
_WORD_WEIGHT = 0.1

_MARKERS = {
    "en": "the what how do does is are can my our i we you for with which when should need any",
    "fr": "le la les des du une est sont quel quelle quels quelles comment combien dois "
    "je nous mon ma mes pour avec dans sur pays qu est-ce être faut",
    "es": "el los las del una es son cuál cuáles cómo cuánto debo mi mis para con en qué hay "
    "puedo necesito",
    "pt": "o os as do da dos das uma é são qual quais como quanto devo meu minha para com em "
    "não preciso posso você",
}
_WORDS = {lang: set(words.split()) for lang, words in _MARKERS.items()}
_ARABIC = re.compile(r"[\u0600-\u06FF]")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _detector():
    """Lingua over the answered languages (built once: about 2 s and 190 MB)."""
    from lingua import Language, LanguageDetectorBuilder

    languages = {
        Language.ENGLISH: "en",
        Language.FRENCH: "fr",
        Language.SPANISH: "es",
        Language.PORTUGUESE: "pt",
        Language.ARABIC: "ar",
    }
    return LanguageDetectorBuilder.from_languages(*languages).build(), languages


def language_confidences(text: str) -> dict[str, float]:
    """Each answered language's confidence for ``text`` (Lingua's, plus 0.1 for each of
    its telling words); all zero when there is nothing to tell from."""
    scores = dict.fromkeys(SUPPORTED, 0.0)
    if not re.search(r"[^\W\d_]", text):
        return scores
    with _lock:  # built once, whichever thread asks first
        detector, languages = _detector()
    for found in detector.compute_language_confidence_values(text):
        scores[languages[found.language]] = found.value
    words = re.findall(r"[\w'-]+", text.lower())
    for lang, vocab in _WORDS.items():
        scores[lang] += _WORD_WEIGHT * sum(w in vocab for w in words)
    return scores


def detect_language(text: str, default: str = "en", earlier: Sequence[str] = ()) -> str:
    """One of ``SUPPORTED``: the language of ``text``; when it is too short or unclear to
    tell, the language of ``text`` read after the ``earlier`` messages of the same user."""
    if _ARABIC.search(text):
        return "ar"
    scores = language_confidences(text)
    best = max(scores, key=lambda lang: scores[lang])
    short = len(re.findall(r"[^\W\d_]{2,}", text)) < SHORT
    if earlier and (short or scores[best] < UNSURE):
        return detect_language(" ".join([*earlier[-3:], text]), default)
    return best if scores[best] > 0 else default


def _script_letters(text: str) -> list[str]:
    """The letters of ``text`` in any script of ``_SCRIPTS``."""
    return [c for c in text if any(script.match(c) for script, _ in _SCRIPTS.values())]


# Telling words of languages the assistant does not answer, written in Latin letters.
_OTHER_MARKERS = {
    "de": "der die das den dem und ist sind ich wir wie was welche welcher für mit "
    "nicht ein eine einen nach muss müssen kann brauche bei zum zur auch",
    "it": "il lo gli della delle dello che è sono come quale quali dove devo posso mio mia "
    "per con non una degli nel alla questo",
    "nl": "het een van ik wij hoe wat welke voor met niet moet kan naar zijn bij ook",
}
_OTHER_WORDS = {lang: set(words.split()) for lang, words in _OTHER_MARKERS.items()}
# Scripts of languages the assistant does not answer: the language to say so in, and
# the languages langdetect may tell apart in that script.
_SCRIPTS = {
    "ja": (re.compile(r"[\u3040-\u30FF]"), ()),  # kana, before the Han it is mixed with
    "ko": (re.compile(r"[\uAC00-\uD7AF]"), ()),
    "zh": (re.compile(r"[\u4E00-\u9FFF]"), ()),
    "ru": (re.compile(r"[\u0400-\u04FF]"), ("ru", "uk", "bg", "mk")),
    "el": (re.compile(r"[\u0370-\u03FF]"), ()),
    "he": (re.compile(r"[\u0590-\u05FF]"), ()),
    "hi": (re.compile(r"[\u0900-\u097F]"), ("hi", "mr", "ne")),
    "th": (re.compile(r"[\u0E00-\u0E7F]"), ()),
}


def _in_script(text: str, fallback: str, languages: tuple[str, ...]) -> str:
    """Which of ``languages`` sharing a script ``text`` is in, as langdetect tells."""
    try:
        from langdetect import DetectorFactory, detect

        DetectorFactory.seed = 0
        found = detect(text)
    except Exception:  # langdetect raises on text it cannot read
        return fallback
    return found if found in languages else fallback


def unsupported_language(text: str) -> str | None:
    """The language of ``text`` when it is clearly one the assistant does not answer (some
    of its letters in a script of such a language, or more telling words of another
    language than of any answered one); None otherwise, and for text too short to tell."""
    letters = len(re.findall(r"[^\W\d_]", text))
    if not letters:
        return None
    if len(_script_letters(text)) * 2 > letters:
        fallback, (_, languages) = next(
            (name, found) for name, found in _SCRIPTS.items() if found[0].search(text)
        )
        return _in_script(text, fallback, languages) if languages else fallback
    words = re.findall(r"[\w'-]+", text.lower())
    answered = max(sum(w in vocab for w in words) for vocab in _WORDS.values())
    other = {lang: sum(w in vocab for w in words) for lang, vocab in _OTHER_WORDS.items()}
    best = max(other, key=lambda lang: other[lang])
    return best if other[best] >= 2 and other[best] > answered else None


_MESSAGES: dict[str, dict[str, str]] = {
    "lead_in": {
        "en": "Here is what the sources say:",
        "fr": "Voici ce que disent les sources :",
        "es": "Esto es lo que dicen las fuentes:",
        "pt": "Eis o que dizem as fontes:",
        "ar": "إليك ما تقوله المصادر:",
    },
    "refusal": {
        "en": "My sources do not answer this, so I won't guess.",
        "fr": "Mes sources ne répondent pas à cette question, je préfère ne pas deviner.",
        "es": "Mis fuentes no responden a esta pregunta, así que prefiero no adivinar.",
        "pt": "As minhas fontes não respondem a esta pergunta, por isso prefiro não adivinhar.",
        "ar": "مصادري لا تجيب عن هذا السؤال، ولذلك لن أخمّن.",
    },
    "may_help": {
        "en": "These sources may help:",
        "fr": "Ces sources peuvent vous aider :",
        "es": "Estas fuentes pueden ayudarle:",
        "pt": "Estas fontes podem ajudar:",
        "ar": "قد تفيدك هذه المصادر:",
    },
    "ask_adviser": {
        "en": "An adviser of the export help desk can answer it: ask for an adviser and "
        "your question is passed on with this conversation.",
        "fr": "Un conseiller du service d'appui à l'export peut y répondre : demandez un "
        "conseiller et votre question lui sera transmise avec cette conversation.",
        "es": "Un asesor del servicio de apoyo a la exportación puede responder: pida un "
        "asesor y su pregunta se le transmitirá con esta conversación.",
        "pt": "Um consultor do serviço de apoio à exportação pode responder: peça um "
        "consultor e a sua pergunta ser-lhe-á transmitida com esta conversa.",
        "ar": "يمكن لمستشار من مكتب دعم التصدير الإجابة: اطلب مستشارًا وسيُحال سؤالك إليه مع "
        "هذه المحادثة.",
    },
    "out_of_scope": {
        "en": "My sources are dated guides and regulations: they cannot give live figures "
        "(today's rates, prices, opening hours) or write texts for you.",
        "fr": "Mes sources sont des guides et des textes datés : elles ne donnent pas de "
        "chiffres du jour (taux, prix, horaires) et je ne rédige pas de textes.",
        "es": "Mis fuentes son guías y normas fechadas: no dan cifras del día (tipos, precios, "
        "horarios) ni redacto textos.",
        "pt": "As minhas fontes são guias e normas datados: não dão valores do dia (taxas, "
        "preços, horários) nem redijo textos.",
        "ar": "مصادري أدلة ولوائح مؤرخة: لا تعطي أرقام اليوم (الأسعار، المواعيد) ولا أكتب نصوصًا.",
    },
    "dated": {
        "en": "Check the dates: {sources} may be out of date.",
        "fr": "Vérifiez les dates : {sources} peuvent ne plus être à jour.",
        "es": "Compruebe las fechas: {sources} pueden estar desactualizadas.",
        "pt": "Verifique as datas: {sources} podem estar desatualizadas.",
        "ar": "تحقق من التواريخ: قد تكون {sources} قديمة.",
    },
    "lexical_only": {
        "en": "The index is still being built: this answer comes from keyword search only.",
        "fr": "L'index est encore en construction : cette réponse vient de la seule recherche "
        "par mots-clés.",
        "es": "El índice aún se está construyendo: esta respuesta procede solo de la búsqueda "
        "por palabras clave.",
        "pt": "O índice ainda está a ser construído: esta resposta vem apenas da pesquisa por "
        "palavras-chave.",
        "ar": "لا يزال الفهرس قيد الإنشاء: هذه الإجابة مستندة إلى البحث بالكلمات المفتاحية فقط.",
    },
    "llm_fallback": {
        "en": "The language model's answer could not be checked against the sources, so "
        "these are the most relevant passages instead.",
        "fr": "La réponse du modèle de langue n'a pas pu être vérifiée dans les sources : "
        "voici plutôt les passages les plus pertinents.",
        "es": "La respuesta del modelo de lenguaje no pudo verificarse con las fuentes; estos "
        "son los pasajes más pertinentes.",
        "pt": "A resposta do modelo de linguagem não pôde ser verificada nas fontes; estes são "
        "os trechos mais relevantes.",
        "ar": "تعذّر التحقق من إجابة النموذج اللغوي في المصادر، لذا إليك أهم المقاطع بدلاً منها.",
    },
    "llm_unavailable": {
        "en": "The language model did not answer in time; these are the most relevant passages.",
        "fr": "Le modèle de langue n'a pas répondu à temps ; voici les passages les plus "
        "pertinents.",
        "es": "El modelo de lenguaje no respondió a tiempo; estos son los pasajes más pertinentes.",
        "pt": "O modelo de linguagem não respondeu a tempo; estes são os trechos mais relevantes.",
        "ar": "لم يستجب النموذج اللغوي في الوقت المناسب؛ إليك أهم المقاطع.",
    },
    "hs_lead_in": {
        "en": "The closest HS codes in the Harmonized System nomenclature are:",
        "fr": "Les codes SH les plus proches dans la nomenclature du Système harmonisé sont :",
        "es": "Los códigos SA más cercanos en la nomenclatura del Sistema Armonizado son:",
        "pt": "Os códigos SH mais próximos na nomenclatura do Sistema Harmonizado são:",
        "ar": "أقرب رموز النظام المنسق في التسمية هي:",
    },
    "hs_unsure": {
        "en": "These HS codes fit your description almost equally well:",
        "fr": "Ces codes SH correspondent presque aussi bien à votre description :",
        "es": "Estos códigos SA corresponden casi igual de bien a su descripción:",
        "pt": "Estes códigos SH correspondem quase igualmente bem à sua descrição:",
        "ar": "تتطابق رموز النظام المنسق هذه مع وصفك بدرجة متقاربة:",
    },
    "hs_ask": {
        "en": "What separates them: {options}. Which one describes your product? Reply with "
        "that detail (material, fresh or frozen, knitted or not…) and I will narrow it down.",
        "fr": "Ce qui les distingue : {options}. Lequel décrit votre produit ? Répondez avec "
        "ce détail (matière, frais ou congelé, en bonneterie ou non…) et j'affinerai.",
        "es": "Lo que los distingue: {options}. ¿Cuál describe su producto? Responda con ese "
        "detalle (material, fresco o congelado, de punto o no…) y afinaré la respuesta.",
        "pt": "O que os distingue: {options}. Qual descreve o seu produto? Responda com esse "
        "detalhe (matéria, fresco ou congelado, de malha ou não…) e eu afino a resposta.",
        "ar": "ما يميزها: {options}. أيها يصف منتجك؟ أجب بهذا التفصيل (المادة، طازج أو مجمد…) "
        "وسأضيّق الاختيار.",
    },
    "hs_caveat": {
        "en": "These are 6-digit codes of the {edition} nomenclature. National tariffs add "
        "digits (8 to 10) and set the duty: look the code up in the destination's tariff, and "
        "confirm the classification with your customs authority (binding tariff information) "
        "before you ship.",
        "fr": "Ce sont des codes à 6 chiffres de la nomenclature {edition}. Les tarifs nationaux "
        "ajoutent des chiffres (8 à 10) et fixent les droits : cherchez le code dans le tarif "
        "du pays de destination, et faites confirmer le classement par la douane "
        "(renseignement tarifaire contraignant) avant d'expédier.",
        "es": "Son códigos de 6 dígitos de la nomenclatura {edition}. Los aranceles nacionales "
        "añaden dígitos (8 a 10) y fijan el derecho: busque el código en el arancel del país "
        "de destino y confirme la clasificación con su aduana (información arancelaria "
        "vinculante) antes de enviar.",
        "pt": "São códigos de 6 dígitos da nomenclatura {edition}. As pautas nacionais "
        "acrescentam dígitos (8 a 10) e fixam o direito: procure o código na pauta do país de "
        "destino e confirme a classificação com a sua alfândega (informação pautal "
        "vinculativa) antes de enviar.",
        "ar": "هذه رموز من 6 أرقام في تسمية {edition}. تضيف التعريفات الوطنية أرقامًا (من 8 إلى "
        "10) وتحدد الرسوم: ابحث عن الرمز في تعريفة بلد المقصد، وأكّد التصنيف مع سلطة الجمارك "
        "قبل الشحن.",
    },
    # ------------------------------------------------------------ phone channels
    "button_more": {"en": "More", "fr": "Suite", "es": "Más", "pt": "Mais", "ar": "المزيد"},
    "button_sources": {
        "en": "Sources",
        "fr": "Sources",
        "es": "Fuentes",
        "pt": "Fontes",
        "ar": "المصادر",
    },
    "button_new": {
        "en": "New question",
        "fr": "Nouvelle question",
        "es": "Nueva pregunta",
        "pt": "Nova pergunta",
        "ar": "سؤال جديد",
    },
    "continues": {
        "en": "The answer continues: tap More.",
        "fr": "La réponse continue : touchez Suite.",
        "es": "La respuesta continúa: pulse Más.",
        "pt": "A resposta continua: toque em Mais.",
        "ar": "للإجابة بقية: اضغط المزيد.",
    },
    "nothing_more": {
        "en": "That was the whole answer.",
        "fr": "C'était toute la réponse.",
        "es": "Esa era toda la respuesta.",
        "pt": "Essa era a resposta completa.",
        "ar": "كانت هذه الإجابة كاملة.",
    },
    "answer_not_found": {
        "en": "I can't find that answer in this conversation any more. Please ask your "
        "question again.",
        "fr": "Je ne retrouve plus cette réponse dans cette conversation. Posez à nouveau "
        "votre question.",
        "es": "Ya no encuentro esa respuesta en esta conversación. Vuelva a hacer su pregunta.",
        "pt": "Já não encontro essa resposta nesta conversa. Faça a sua pergunta novamente.",
        "ar": "لم أعد أجد هذه الإجابة في هذه المحادثة. يُرجى طرح سؤالك مرة أخرى.",
    },
    "new_started": {
        "en": "Ready for a new question: type it below.",
        "fr": "Prêt pour une nouvelle question : écrivez-la ci-dessous.",
        "es": "Listo para una nueva pregunta: escríbala a continuación.",
        "pt": "Pronto para uma nova pergunta: escreva-a abaixo.",
        "ar": "جاهز لسؤال جديد: اكتبه أدناه.",
    },
    "non_text": {
        "en": "Thanks for your message. I can only read text, so please type your question "
        "about exports, customs or VAT.",
        "fr": "Merci pour votre message. Je ne lis que le texte : écrivez votre question sur "
        "l'export, la douane ou la TVA.",
        "es": "Gracias por su mensaje. Solo puedo leer texto: escriba su pregunta sobre "
        "exportación, aduanas o IVA.",
        "pt": "Obrigado pela sua mensagem. Só consigo ler texto: escreva a sua pergunta sobre "
        "exportação, alfândega ou IVA.",
        "ar": "شكرًا على رسالتك. لا أستطيع قراءة سوى النصوص، فاكتب سؤالك عن التصدير أو الجمارك "
        "أو ضريبة القيمة المضافة.",
    },
    # ------------------------------------------------------------ small talk
    "smalltalk_greeting": {
        "en": "Hello!",
        "fr": "Bonjour !",
        "es": "¡Hola!",
        "pt": "Olá!",
        "ar": "مرحبًا!",
    },
    "smalltalk_thanks": {
        "en": "You're welcome!",
        "fr": "Avec plaisir !",
        "es": "¡De nada!",
        "pt": "De nada!",
        "ar": "على الرحب والسعة!",
    },
    "smalltalk_identity": {
        "en": "I'm the Export Assistant, a program (not a person).",
        "fr": "Je suis l'Assistant export, un programme (pas une personne).",
        "es": "Soy el Asistente de exportación, un programa (no una persona).",
        "pt": "Sou o Assistente de exportação, um programa (não uma pessoa).",
        "ar": "أنا مساعد التصدير، برنامج آلي (ولست شخصًا).",
    },
    "smalltalk_help": {
        "en": "Type your question in a sentence, as you would ask an adviser.",
        "fr": "Écrivez votre question en une phrase, comme à un conseiller.",
        "es": "Escriba su pregunta en una frase, como se la haría a un asesor.",
        "pt": "Escreva a sua pergunta numa frase, como a faria a um consultor.",
        "ar": "اكتب سؤالك في جملة، كما تسأل مستشارًا.",
    },
    "smalltalk_intro": {
        "en": "I answer questions on exporting: customs procedures and documents, HS codes, "
        "VAT and e-commerce rules, export finance, each answer quoting and citing official "
        "sources. For example:",
        "fr": "Je réponds aux questions sur l'export : formalités et documents de douane, "
        "codes SH, TVA et vente en ligne, financement export, en citant à chaque fois des "
        "sources officielles. Par exemple :",
        "es": "Respondo a preguntas sobre exportación: trámites y documentos aduaneros, "
        "códigos SA, IVA y comercio electrónico, financiación de la exportación, citando "
        "siempre fuentes oficiales. Por ejemplo:",
        "pt": "Respondo a perguntas sobre exportação: procedimentos e documentos aduaneiros, "
        "códigos SH, IVA e comércio eletrónico, financiamento à exportação, citando sempre "
        "fontes oficiais. Por exemplo:",
        "ar": "أجيب عن الأسئلة المتعلقة بالتصدير: الإجراءات والمستندات الجمركية، ورموز النظام "
        "المنسق، وضريبة القيمة المضافة والتجارة الإلكترونية، وتمويل التصدير، مع الاستشهاد "
        "دائمًا بمصادر رسمية. على سبيل المثال:",
    },
    "smalltalk_examples": {
        "en": "What is the HS code for wooden bedroom furniture?\n"
        "Do I need to file EEI for exports to Canada?\n"
        "How does the VAT one-stop shop work for online sales in the EU?",
        "fr": "Quel est le code SH des meubles de chambre en bois ?\n"
        "Comment fonctionne la franchise en base de TVA ?\n"
        "Quelles formalités de dédouanement pour exporter hors de l'UE ?",
        "es": "¿Cuál es el código SA de los muebles de dormitorio de madera?\n"
        "¿Cómo funciona la ventanilla única del IVA para las ventas en línea en la UE?\n"
        "¿Qué documentos necesito para exportar a Estados Unidos?",
        "pt": "Qual é o código SH dos móveis de quarto de madeira?\n"
        "Como funciona o balcão único do IVA para as vendas online na UE?\n"
        "Que documentos preciso para exportar para os Estados Unidos?",
        "ar": "ما هو رمز النظام المنسق لأثاث غرف النوم الخشبي؟\n"
        "كيف يعمل الشباك الموحد لضريبة القيمة المضافة للمبيعات عبر الإنترنت في الاتحاد الأوروبي؟\n"
        "ما المستندات اللازمة للتصدير إلى الولايات المتحدة؟",
    },
    "unsupported_language": {
        "en": "I can only answer in English, French, Spanish, Portuguese and Arabic. Please "
        "ask your question again in one of these languages.",
        "fr": "Je ne peux répondre qu'en anglais, français, espagnol, portugais et arabe. "
        "Posez à nouveau votre question dans l'une de ces langues.",
        "ru": "Я могу отвечать только на английском, французском, испанском, португальском "
        "и арабском языках. Пожалуйста, задайте вопрос на одном из этих языков.",
        "de": "Ich kann nur auf Englisch, Französisch, Spanisch, Portugiesisch und Arabisch "
        "antworten. Bitte stellen Sie Ihre Frage in einer dieser Sprachen.",
        "it": "Posso rispondere solo in inglese, francese, spagnolo, portoghese e arabo. "
        "Per favore, ponga la domanda in una di queste lingue.",
        "zh": "我只能用英语、法语、西班牙语、葡萄牙语和阿拉伯语回答。请用其中一种语言重新提问。",
    },
    "attachment_unread": {
        "en": "I answered the text of your message; I cannot read the attached file itself.",
        "fr": "J'ai répondu au texte de votre message ; je ne peux pas lire le fichier joint.",
        "es": "He respondido al texto de su mensaje; no puedo leer el archivo adjunto.",
        "pt": "Respondi ao texto da sua mensagem; não consigo ler o ficheiro anexo.",
        "ar": "أجبت عن نص رسالتك؛ لا أستطيع قراءة الملف المرفق نفسه.",
    },
    "rate_limited": {
        "en": "You have sent many messages in a short time. Please wait {seconds} seconds "
        "before sending the next one.",
        "fr": "Vous avez envoyé beaucoup de messages en peu de temps. Merci d'attendre "
        "{seconds} secondes avant le prochain.",
        "es": "Ha enviado muchos mensajes en poco tiempo. Espere {seconds} segundos antes de "
        "enviar el siguiente.",
        "pt": "Enviou muitas mensagens em pouco tempo. Aguarde {seconds} segundos antes de "
        "enviar a próxima.",
        "ar": "لقد أرسلت رسائل كثيرة في وقت قصير. يُرجى الانتظار {seconds} ثانية قبل إرسال "
        "الرسالة التالية.",
    },
    "answer_failed": {
        "en": "Sorry, I could not answer just now. Please send your question again in a few "
        "minutes.",
        "fr": "Désolé, je n'ai pas pu répondre pour l'instant. Renvoyez votre question dans "
        "quelques minutes.",
        "es": "Lo siento, no he podido responder ahora. Vuelva a enviar su pregunta en unos "
        "minutos.",
        "pt": "Desculpe, não consegui responder agora. Volte a enviar a sua pergunta dentro de "
        "alguns minutos.",
        "ar": "عذرًا، تعذّر عليّ الرد الآن. أعد إرسال سؤالك بعد بضع دقائق.",
    },
    # ------------------------------------------------------------ advisers (hand-offs)
    "approved_lead_in": {
        "en": "Answer from the advisers of {desk}, {date}, to the question “{question}”:",
        "fr": "Réponse des conseillers de {desk}, {date}, à la question « {question} » :",
        "es": "Respuesta de los asesores de {desk}, {date}, a la pregunta «{question}»:",
        "pt": "Resposta dos consultores de {desk}, {date}, à pergunta «{question}»:",
        "ar": "إجابة من مستشاري {desk}، {date}، على السؤال «{question}»:",
    },
    "button_adviser": {
        "en": "Ask an adviser",
        "fr": "Un conseiller",
        "es": "Un asesor",
        "pt": "Um consultor",
        "ar": "اسأل مستشارًا",
    },
    "handoff_confirm": {
        "en": "Your question has been passed to an adviser of {desk}, who will reply here, "
        "usually within {hours} hours.",
        "fr": "Votre question a été transmise à un conseiller de {desk}, qui vous répondra "
        "ici, en général sous {hours} heures.",
        "es": "Su pregunta se ha enviado a un asesor de {desk}, que le responderá aquí, "
        "normalmente en menos de {hours} horas.",
        "pt": "A sua pergunta foi enviada a um consultor de {desk}, que lhe responderá aqui, "
        "normalmente em menos de {hours} horas.",
        "ar": "أُحيل سؤالك إلى مستشار من {desk}، وسيرد عليك هنا عادةً خلال {hours} ساعة.",
    },
    "handoff_already": {
        "en": "This question is already with an adviser of {desk}: the reply will come here.",
        "fr": "Cette question est déjà entre les mains d'un conseiller de {desk} : la réponse "
        "arrivera ici.",
        "es": "Esta pregunta ya está en manos de un asesor de {desk}: la respuesta llegará aquí.",
        "pt": "Esta pergunta já está com um consultor de {desk}: a resposta chegará aqui.",
        "ar": "هذا السؤال لدى مستشار من {desk} بالفعل: سيصل الرد هنا.",
    },
    "handoff_nothing": {
        "en": "There is no question to pass to an adviser yet: type your question first.",
        "fr": "Il n'y a pas encore de question à transmettre : écrivez d'abord votre question.",
        "es": "Todavía no hay ninguna pregunta que enviar: escriba primero su pregunta.",
        "pt": "Ainda não há nenhuma pergunta a enviar: escreva primeiro a sua pergunta.",
        "ar": "لا يوجد سؤال لإحالته بعد: اكتب سؤالك أولًا.",
    },
    "adviser_reply": {
        "en": "Reply from an adviser of {desk} to your question “{question}”:",
        "fr": "Réponse d'un conseiller de {desk} à votre question « {question} » :",
        "es": "Respuesta de un asesor de {desk} a su pregunta «{question}»:",
        "pt": "Resposta de um consultor de {desk} à sua pergunta «{question}»:",
        "ar": "رد مستشار من {desk} على سؤالك «{question}»:",
    },
}


def message(key: str, language: str, **values: str) -> str:
    """A fixed sentence in ``language`` (English when there is no translation)."""
    table = _MESSAGES[key]
    return table.get(language, table["en"]).format(**values)


def translated(key: str, language: str) -> bool:
    """Does the fixed sentence ``key`` exist in ``language``?"""
    return language in _MESSAGES[key]
