"""The user's language, and the few sentences the assistant writes itself, in that language.

Short questions defeat statistical detectors ("hs code for batteries?"), so telling
words are counted first and langdetect only breaks ties.
"""

from __future__ import annotations

import re

__all__ = ["SUPPORTED", "detect_language", "message"]

SUPPORTED = ("en", "fr", "es", "pt", "ar")

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


def detect_language(text: str, default: str = "en") -> str:
    """One of ``SUPPORTED``: the language of ``text`` as best it can be told."""
    if _ARABIC.search(text):
        return "ar"
    words = re.findall(r"[\w'-]+", text.lower())
    counts = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    accents = len(re.findall(r"[éèêàçùâîôœ]", text.lower()))
    counts["fr"] += accents
    counts["es"] += len(re.findall(r"[ñ¿¡]", text.lower())) * 2
    counts["pt"] += len(re.findall(r"[ãõ]", text.lower())) * 2
    best = max(counts, key=lambda lang: counts[lang])
    ranked = sorted(counts.values(), reverse=True)
    if ranked[0] > 0 and ranked[0] > ranked[1]:
        return best
    try:
        from langdetect import DetectorFactory, detect_langs

        DetectorFactory.seed = 0
        for guess in detect_langs(text):
            if guess.lang in SUPPORTED:
                return guess.lang
    except Exception:  # langdetect raises on text without letters
        pass
    return best if ranked[0] > 0 else default


_MESSAGES: dict[str, dict[str, str]] = {
    "lead_in": {
        "en": "Here is what the sources say:",
        "fr": "Voici ce que disent les sources :",
        "es": "Esto es lo que dicen las fuentes:",
        "pt": "Eis o que dizem as fontes:",
        "ar": "إليك ما تقوله المصادر:",
    },
    "refusal": {
        "en": "I can't find this in my sources, so I won't guess. Try rephrasing with the "
        "product, the countries and the procedure involved, or ask your customs authority "
        "or export-help desk.",
        "fr": "Je ne trouve pas cette information dans mes sources, je préfère ne pas deviner. "
        "Reformulez en précisant le produit, les pays et la démarche concernés, ou "
        "renseignez-vous auprès de la douane ou d'un service d'appui à l'export.",
        "es": "No encuentro esto en mis fuentes, así que prefiero no adivinar. Reformule la "
        "pregunta indicando el producto, los países y el trámite, o consulte a su aduana o a "
        "un servicio de apoyo a la exportación.",
        "pt": "Não encontro isto nas minhas fontes, por isso prefiro não adivinhar. Reformule "
        "indicando o produto, os países e o procedimento, ou consulte a sua alfândega ou um "
        "serviço de apoio à exportação.",
        "ar": "لا أجد هذه المعلومة في مصادري، ولذلك لن أخمّن. أعد صياغة السؤال مع ذكر المنتج "
        "والبلدان والإجراء المعني، أو اسأل سلطة الجمارك أو مكتب دعم التصدير.",
    },
    "dated": {
        "en": "Check the dates: {sources} may be out of date.",
        "fr": "Vérifiez les dates : {sources} peut ne plus être à jour.",
        "es": "Compruebe las fechas: {sources} puede estar desactualizado.",
        "pt": "Verifique as datas: {sources} pode estar desatualizado.",
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
    "hs_caveat": {
        "en": "Confirm the classification with your customs authority (binding tariff "
        "information) before you ship: national tariffs add digits beyond these six.",
        "fr": "Faites confirmer le classement par la douane (renseignement tarifaire "
        "contraignant) avant d'expédier : les tarifs nationaux ajoutent des chiffres à ces six.",
        "es": "Confirme la clasificación con su aduana (información arancelaria vinculante) "
        "antes de enviar: los aranceles nacionales añaden dígitos a estos seis.",
        "pt": "Confirme a classificação com a sua alfândega (informação pautal vinculativa) "
        "antes de enviar: as pautas nacionais acrescentam dígitos a estes seis.",
        "ar": "أكّد التصنيف مع سلطة الجمارك قبل الشحن: التعريفات الوطنية تضيف أرقامًا بعد هذه الستة.",
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
}


def message(key: str, language: str, **values: str) -> str:
    """A fixed sentence in ``language`` (English when there is no translation)."""
    table = _MESSAGES[key]
    return table.get(language, table["en"]).format(**values)
