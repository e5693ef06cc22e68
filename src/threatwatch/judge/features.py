"""Features shared by training and inference: hashed n-grams and explicit cues.

The same code turns a (post, target) pair into numbers at training time and at run time, so a
model can never see features computed differently from those it was trained on. Hashing uses
crc32 (stable across processes and Python versions, unlike `hash`). Cues are regexes in English
and Spanish that a reviewer can read; each hit keeps its span in the ORIGINAL text.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

N_HASH = 1 << 17  # hashed n-gram buckets per head (weights are stored as float16)
MENTION_TOKEN = "__tgt__"

_TOKEN_RE = re.compile(r"https?://\S+|www\.\S+|@\w+|#\w+|\w+(?:'\w+)?|[!?]+|[^\w\s]", re.UNICODE)
_URL_RE = re.compile(r"^(?:https?://|www\.)")


def _h(s: str) -> int:
    return zlib.crc32(s.encode("utf-8", "surrogatepass")) & (N_HASH - 1)


def tokens(text: str) -> list[str]:
    """Lower-cased tokens with URLs, handles and numbers made generic."""
    out: list[str] = []
    for t in _TOKEN_RE.findall(text.lower()):
        if _URL_RE.match(t):
            out.append("__url__")
        elif t.startswith("@"):
            out.append("@user")
        elif t.isdigit():
            out.append("__num__")
        else:
            out.append(t)
    return out


def mask_mentions(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the target's mentions by one placeholder, so features say 'the target' rather
    than its name (a model trained on one target then works for a user's new target)."""
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for s, e in sorted(spans):
        if s < last:
            continue
        out.append(text[last:s])
        out.append(f" {MENTION_TOKEN} ")
        last = e
    out.append(text[last:])
    return "".join(out)


@lru_cache(maxsize=200_000)
def _token_ids(t: str) -> tuple[int, ...]:
    """A word's unigram id and its char 3/4-gram ids (cached: words repeat across posts)."""
    ids = [_h("w:" + t)]
    if len(t) >= 2 and not t.startswith("__"):
        w = "<" + t + ">"
        for n in (3, 4):
            ids.extend(_h("c:" + w[i : i + n]) for i in range(len(w) - n + 1))
    return tuple(ids)


def hashed_ids(text: str, spans: list[tuple[int, int]] | None = None) -> list[int]:
    """Bucket ids of word 1-2-grams, char 3-4-grams inside words, and words near the target."""
    masked = mask_mentions(text, spans or [])
    toks = tokens(masked)
    ids: list[int] = []
    for t in toks:
        ids.extend(_token_ids(t))
    ids.extend(_h("b:" + a + " " + b) for a, b in zip(toks, toks[1:], strict=False))
    if spans:
        where = [i for i, t in enumerate(toks) if t == MENTION_TOKEN]
        for i in where:
            for j in range(max(0, i - 4), min(len(toks), i + 5)):
                if j != i:
                    ids.append(_h(("L:" if j < i else "R:") + toks[j]))
    return ids


def pair_ids(text: str, folded: str, spans: list[tuple[int, int]] | None) -> list[int]:
    """Hashed ids of a (post, target) pair: the original text with the target masked, plus the
    words that only the folded text reveals ("k1ll" -> "kill")."""
    ids = hashed_ids(text, spans)
    if folded and folded != text:
        seen = set(tokens(text))
        ids.extend(_h("w:" + t) for t in tokens(folded) if t not in seen)
    return ids


def hashed_matrix(texts: list[str], folded: list[str], spans: list[list[tuple[int, int]]] | None = None):  # noqa: ANN201
    """Training helper: a scipy CSR matrix of L2-normalised hashed counts."""
    from scipy import sparse

    indptr = [0]
    indices: list[int] = []
    for k, t in enumerate(texts):
        ids = pair_ids(t, folded[k], spans[k] if spans else None)
        indices.extend(ids)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    m = sparse.csr_matrix((data, np.array(indices, dtype=np.int64), np.array(indptr)), shape=(len(texts), N_HASH))
    m.sum_duplicates()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ m


# ---------------------------------------------------------------------------------------------
# Cues. Each family has a sign: + pushes toward a threat, - toward protected speech.
# Patterns run on the lower-cased ORIGINAL text (and the folded text for evasions).

_W = r"(?<![\w])"  # word start
_E = r"(?![\w])"  # word end

_VIOLENT_EN = (
    r"kill(?:ing|ed|s)?|shoot(?:ing|s)?|shot|stab(?:bing|bed|s)?|murder(?:ing|ed)?|slaughter|"
    r"strangle|choke|slit|behead|execute|hang(?:ed|ing)?|lynch(?:ed|ing)?|string (?:them|him|her|'?em) up|"
    r"beat(?:ing)? (?:the \w+ out of|(?:him|her|them|you|'?em)(?: up)?)|bash (?:his|her|their|your) (?:head|skull)|"
    r"burn (?:it|the \w+|(?:it |the place |that \w+ )?down)|burn(?:ing)? down|torch(?:ed|ing)?|"
    r"blow (?:it |the \w+ |them |him |her )?up|bomb(?:ing|ed)?|put (?:a bullet|one|two|bullets) in|"
    r"put (?:him|her|them|you) in the ground|end (?:him|her|them|you)|run (?:him|her|them|you) over|"
    r"smash|break (?:his|her|their|your) (?:legs|neck|face|jaw)|hurt(?:ing)?|attack|gun (?:him|her|them|you|'?em) down|"
    r"pop (?:him|her|them|you)|light (?:it|the \w+) up|massacre|shoot up|spray (?:the|them)|"
    r"die by my hand|(?:get|gets) what'?s com(?:in|ing)|pull(?:in|ing)? up (?:wit|with) (?:the )?(?:heat|straps?|blicks?)|"
    r"drive (?:my|a) (?:truck|car) (?:through|into)|run (?:up )?(?:in|into) (?:that|the)|bustin|blast(?:ing)?|"
    r"pelt(?:ing)?|sink (?:him|her|them)|take (?:him|her|them|the \w+) out|finish (?:this|it|him|her|them)|"
    r"open fire|in body bags|(?:beat|hit) (?:him|her|them|the \w+) (?:until|till)|set (?:it|them|him|her) on fire|"
    # slang (incl. African-American English and drill slang): the same acts, other words
    r"slid(?:e|ing) on|catch(?:in|ing)? (?:him|her|them|'?em|a body|bodies)|smok(?:e|in|ing) (?:him|her|them|'?em)|"
    r"air (?:it|him|her|them|'?em|the \w+) out|wet (?:him|her|them|'?em|it|the \w+) up|clap(?:pin|ping)? (?:him|her|them|'?em)|"
    r"up(?:pin|ping)? (?:the|my) (?:strap|pole|stick|blick|tool)|pull(?:in|ing)? up (?:on|at)|bus(?:t|tin|ting) (?:at|on)|"
    r"drop (?:him|her|them|'?em)|put (?:him|her|them|'?em) on a (?:t-?)?shirt|on sight|body (?:him|her|them)|"
    r"lay (?:him|her|them|'?em) down|spin(?:nin|ning)? (?:the|they|his|her|that) block|light (?:him|her|them|'?em) up|"
    r"shoot (?:the place|it|that \w+) up|run down on|"
    # violence against a group or as a verdict ("they should all be shot", "wipe them out")
    r"exterminat\w*|eradicate (?:them|'?em|all)|wipe (?:them|'?em|\w+) (?:all )?out|get rid of (?:them|'?em|all)|"
    r"gas (?:them|'?em|all)|round (?:them|'?em) up|line (?:them|'?em) up|hunt (?:them|'?em|him|her|you) down|"
    r"drown(?:ed|ing)?|poison(?:ed|ing)?|strangl\w+|run (?:them|'?em) down|cut (?:his|her|their|your) (?:throat|head off)|"
    r"deserves? (?:a bullet|to (?:die|be (?:shot|killed|hanged|hung|burned|executed)))|"
    r"should (?:all )?(?:be )?(?:shot|killed|hanged|hung|executed|burned|gassed|lynched)"
)
_VIOLENT_ES = (
    r"mat(?:ar|o|a|en|amos|arlo|arla|arlos|arlas|arte|aré|ará|aremos|arán)|"
    r"disparar(?:le|les)?|dispar(?:o|en|aré)|balear(?:lo|la|los)?|bale(?:o|en)|acribill\w+|"
    r"apuñal\w+|acuchill\w+|degoll\w+|linch\w+|colg(?:ar|arlo|arla|arlos|uemos|uen)|ahorc\w+|"
    r"quem(?:ar|arlo|arla|arlos|en|emos|aré|amos)|incendi(?:ar|en|emos)|"
    r"volar(?:lo|la|los)? (?:por los aires|en pedazos)|bomba|explot\w+|"
    r"reventar(?:le|les|lo|la)?|revent(?:amos|aré)|romper(?:le|les) (?:la cara|las piernas|el cuello|la madre)|"
    r"partir(?:le|les) (?:la cara|la madre|las piernas)|golpe(?:ar|arlo|arla|arlos)|"
    r"meter(?:le|les) (?:un tiro|plomo|balas)|dar(?:le|les) (?:un tiro|plomo|piso|cuello)|plomo|"
    r"atropell(?:ar|arlo|arla)|rajar(?:le|les)?|cargar(?:se|me)(?:lo|la|los)|fusil\w+|dar(?:le|les) matarile|"
    r"(?:le|les|te) (?:pego|pegamos|meto|metemos) (?:un tiro|dos tiros|plomo|fuego)|pegar(?:le|les) un tiro|"
    r"estrangul\w+|se muere|en bolsas|a palos|a pedradas|acab(?:ar|ad|emos|en) con (?:él|ella|ellos|ellas)|"
    r"incendi(?:emos|ad|en)|mat(?:emos|ad)|prend(?:er|amos|edle|anle) fuego|armad[oa]s|abr(?:ir|id|amos) fuego|"
    r"tronar(?:lo|la|los|las|le)?|quebrar(?:lo|la|los|las)|tumbar(?:lo|la|los)|dar(?:le|les)? (?:cran|piso|chicharrón|baje)|"
    r"partir(?:le|les) (?:su|la) madre|rafague\w+|plomazos?|a balazos|a tiros|a madrazos|a putazos|madrazos|"
    r"cortar(?:le|les) (?:el cuello|la cabeza)|machete(?:ar|arlo|arla)|(?:se|te) (?:va|vas|van) a morir|"
    r"van a (?:salir|acabar|terminar) (?:en bolsas|muertos|muertas)|vol(?:ar|arle|arles) la cabeza|"
    # contra un grupo o como veredicto ("hay que exterminarlos", "merecen un tiro")
    r"extermin\w+|elimin(?:ar|arlos|arlas|emos) a todos|acab(?:ar|emos) con todos|gase(?:ar|arlos|arlas)|"
    r"ahog(?:ar|arlo|arla|arlos|arlas)|envenen\w+|caz(?:ar|arlos|arlas)|"
    r"merece(?:n)? (?:morir|un tiro|la muerte|la horca)|deberían (?:morir|ser (?:fusilad|ahorcad|quemad|ejecutad)\w*)|"
    r"hay que (?:matar|fusilar|colgar|quemar|eliminar|exterminar)\w*|cortar(?:le|les) la garganta"
)
_INTENT = (
    r"i(?:'m| am|m) (?:going to|gonna|about to|finna|fixing to)|i(?:'ll| will| shall)|ima|imma|i'ma|ima gonna|"
    r"we(?:'re| are) (?:going to|gonna)|we(?:'ll| will)|i'm coming|we're coming|i'm gonna|gonna|"
    r"i want to|i'm ready to|i plan to|my plan is|finna|bout to|bouta|boutta|gon|tryna|"
    r"(?:te|le|les|lo|la|los|las) (?:voy|vamos) a|voy a|vamos a|lo haré|te juro que|juro que|"
    r"(?:te|le|les|lo|la|los) (?:mato|matamos|quemo|quemamos|reviento|disparo)|pienso|tengo ganas de"
)
_MEANS = (
    r"gun|guns|rifle|ar-?15|ak-?47|9mm|glock|pistol|shotgun|bullets?|ammo|rounds|knife|machete|gas(?:oline)?|"
    r"molotov|pipe bomb|explosives?|ied|rope|pistola|arma|armas|rifle|cuchillo|navaja|machete|gasolina|balas|"
    r"strap|straps|pole|blick|glizzy|chop|draco|heat|switch|extendo|mag|cuete|fierro|cuerno|"
    r"cuerno de chivo|escopeta|explosivos|soga|acid|ácido|crossbow|ballesta|poison|veneno"
)
_TIME_PLACE = (
    r"tomorrow|tonight|today|this (?:week|weekend|friday|monday|tuesday|wednesday|thursday|saturday|sunday)|"
    r"next (?:time|week|meeting)|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|friday|monday|"
    r"at (?:the |her |his |their )?(?:office|house|home|school|meeting|rally|polling place|parking lot|city hall)|"
    r"outside (?:her|his|their|the)|when (?:she|he|they) (?:leaves?|gets?|shows?|walks?)|"
    r"mañana|esta noche|hoy|el (?:lunes|martes|miércoles|jueves|viernes|sábado|domingo)|la próxima|"
    r"a la salida|en su casa|en la puerta|afuera de|fuera de su|cuando salga"
)
_CONDITIONAL = (
    r"\b(?:if|when|once|the day|the minute|the moment|next time)\b[^.!?\n]{0,80}?\b(?:i'll|i will|we'll|we will|i'm gonna|i'm going to|imma|ima|i'ma|gonna|i swear|we gon|i'm finna)|"
    r"one more [^.!?\n]{0,40}? and|keep (?:it|this) up and|try (?:it|that) again and|"
    r"\b(?:si|cuando|como|el día que|en cuanto)\b[^.!?\n]{0,80}?\b(?:voy a|vamos a|(?:te|le|les|lo|la|los) (?:mato|matamos|parto|pego|quemo|reviento|voy|vamos)|me (?:los|las|lo|la) (?:cargo|chingo|quiebro))\b|"
    r"una (?:vez|sola vez) más y|sigue(?:n)? así y|como (?:vuelva|vuelvan|vuelvas)"
)
_VEILED = (
    r"(?:would|'d) be a (?:real )?shame if|shame if something (?:happened|were to happen)|accidents happen|"
    r"(?:we|i) know where (?:you|she|he|they) (?:live|lives|work|works|sleep|park|go)|"
    r"watch your back|watch (?:her|his|their) back|your days are numbered|(?:his|her|their) days are numbered|"
    r"(?:you|she|he|they) won't see it coming|sleep with one eye open|hope (?:your|her|his) (?:car|house|kids?) (?:is|are|stays?) safe|"
    r"nice (?:house|home|car|family|kids|school|office)[^.!?\n]{0,60}|be a pity if|something bad (?:could|might) happen|"
    r"(?:things|stuff) happen to people who|people like you (?:end up|disappear)|would hate for something to happen|"
    r"sería una (?:pena|lástima) (?:que|si)|s[ée] dónde vives|sabemos dónde (?:vives|vive|trabaja|trabajas|duerme)|"
    r"cuida(?:te)? la espalda|tus días están contados|sus días están contados|los accidentes pasan|"
    r"(?:te|le) puede pasar (?:algo|cualquier cosa)|no (?:te|le) vaya a pasar algo|ojalá no le pase nada|"
    r"bonita casa|linda casa|qué bonitos hijos|ya sabemos dónde|avisad[oa]s? est(?:á|án|ás)|"
    r"update (?:his|her|your|their) wills?|while (?:he|she|you|they)(?:'s|'re| is| are)? (?:still )?breathing|"
    r"tick,? tock|stay (?:home|away) (?:on |this )?\w+day|(?:old )?(?:buildings|houses|paper) burns? easy|"
    r"long memories|short tempers|know (?:your|her|his|their) (?:streets|schedule|routine|car|kids)|"
    r"(?:which|what) (?:church|school|gym|route) (?:she|he|they) (?:attends?|goes to|takes?)|"
    r"finna be on the news|be on the news|look better as a crater|"
    r"no (?:digan|digas|diga) que no (?:avisamos|avisé|te avisé)|(?:el )?papel quema|quema muy bien|"
    r"(?:tan|muy) segur[oa] (?:paseando|caminando|saliendo|andando)|las curvas son peligrosas|los he visto|"
    r"no debería(?:s)? sentirse tan|cuidado con lo que come|🔫|🔪|💣|🪓|⚰️"
)
_INCITE = (
    r"some(?:one|body) (?:should|needs to|need to|has to|oughta|ought to|gotta)|"
    r"(?:let's|lets|let us|we should|we need to|we gotta|y'all should|everyone should|you all should|go) "
    r"(?:burn|kill|shoot|hang|lynch|torch|bomb|blow up|beat|string up|drag|storm|take out|get)|"
    r"go burn|burn it (?:all )?down|kill (?:them|'?em) all|hang (?:them|'?em) all|shoot (?:them|'?em) all|"
    r"who'?s with me|bring (?:your|ur) (?:guns|rifles|weapons|pitchforks|torches)|grab (?:your|ur) (?:guns|rifles)|"
    r"open season on|bounty on|hunt (?:them|'?em|her|him) down|"
    r"alguien (?:debería|deberia|tiene que|tendría que|debe)|que alguien|hay que (?:matar|quemar|colgar|linchar|reventar|darle|ir a)|"
    r"vamos (?:a quemar|a matar|a colgar|a linchar|por (?:él|ella|ellos))|quemen|maten|cuélguenlos|linchen|"
    r"a quemar|a por (?:él|ella|ellos)|traigan (?:sus )?(?:armas|pistolas|gasolina)|quién se apunta|ojalá alguien|"
    r"someone with (?:good aim|a rifle|a gun)|(?:we|y'all) outnumber|pay (?:him|her|them|\w+) a visit|everyone\.|"
    r"time to take (?:him|her|them|the \w+) out|(?:llevad|llevemos|traed|traigan) (?:las |sus )?(?:escopetas|armas|pistolas|molotovs?)|"
    r"hacer justicia|corred la voz|pasen la voz|(?:let's|lets) (?:jump|get|finish|end)|todos juntos a por"
)
_NEWS = (
    r"police said|police say|police (?:arrested|charged|are investigating)|was arrested|were arrested|arrested (?:for|after)|"
    r"charged with|pleaded (?:guilty|not guilty)|according to|authorities|officials said|reported|reports? (?:say|that)|"
    r"breaking:|sentenced|indicted|investigat(?:ing|ion)|suspect|court (?:documents|records)|the sheriff|"
    r"según (?:la policía|las autoridades|fuentes)|fue (?:detenido|detenida|arrestado|arrestada|imputado)|detenid[oa]s? por|"
    r"la policía|informó|informa|investiga|investigan|imputad[oa]|condenad[oa]|última hora|denunció|denuncia|"
    r"agency says|(?:he|she|they) says|during (?:an |the )?arrest|statement|spokes(?:man|woman|person)|"
    r"portavoz|comunicado|según fuentes"
)
_QUOTE = (r"[\"“”«»]|\bquote\b|\bsaid:|\bdijo:|\bescribió\b|\bwrote\b|\bposted\b|\btweeted\b|\bpublicó\b|"
          r"\bvoicemail\b|\bsaying\b|\bdiciendo\b|\bmensaje de voz\b|\bleft a (?:note|message)\b")
_CONDEMN = (
    r"not ok|not okay|unacceptable|disgusting|condemn|this is a threat|report(?:ed)? (?:it|this|him|her|them)|"
    r"needs to be reported|this is not|never acceptable|sick|vile|chilling|scary|"
    r"no es (?:aceptable|normal|libertad)|inaceptable|condeno|condenamos|repudi\w+|denunciado|asqueroso|vergonzoso|"
    r"esto es una amenaza|qué miedo|lamentable"
)
_COUNTER = (
    r"violence is (?:never|not)|no (?:one|body) deserves|nobody deserves|threatening (?:anyone|people|officials|\w+) is|"
    r"don't (?:threaten|hurt)|stop (?:threatening|the threats)|(?:we|i) stand with|disagree(?: with)? (?:her|him|them)? but|"
    r"la violencia no|nadie merece|no a la violencia|basta de amenazas|amenazar (?:a|no)|estamos con|todo mi apoyo|"
    r"a (?:quien|quienes|los que|las que) (?:pide|piden|pedís|llama|llaman|llamáis|amenaza|amenazan|amenazáis)|"
    r"quien (?:les|le|los|la|nos) amenace|dais asco|no con (?:gasolina|violencia|amenazas|balas)|"
    r"to (?:whoever|the people|those) (?:threatening|calling for|who threatened)|deserve(?:s)? better|stand with|"
    # negated violence: "I would never hurt", "no one should lay a hand on", "nadie debería tocar"
    r"(?:would|will|could) never (?:hurt|harm|touch|kill)|(?:no one|nobody) (?:should|may|will) (?:ever )?(?:hurt|harm|touch|lay a hand)|"
    r"jamás (?:le|les|lo|la|los|las) (?:haría|tocaría|haríamos)|nunca (?:le|les) (?:haría|haríamos) daño|"
    r"nadie (?:debería|debe|puede) (?:tocar|hacer daño|lastimar|amenazar)"
)
_PROTEST = (
    r"march(?:ing)?|rally|protest(?:ing|s)?|picket|boycott|walkout|walk out|sit-in|petition|vote (?:her|him|them|'?em) out|"
    r"recall|call (?:your|their)|show up (?:at|to)|pack the (?:meeting|room|board)|strike|blockade|demonstrat\w+|"
    r"marcha|protesta|manifestación|manifestarnos|concentración|cacerolazo|huelga|boicot|pancarta|firmas|votar|"
    r"plantón|paro|recogida de firmas|a la calle|"
    r"run for (?:the )?(?:school board|office|council|mayor|her seat|his seat)|coming for [^.!?\n]{0,30}(?:seat|job)|"
    r"filing (?:my )?paperwork|at the ballot box|in the polls|quemar los teléfonos|llamad todos|call (?:them|her|him) all day"
)
_HYPERBOLE = (
    r"killing me|killed me|kill me now|i'd kill for|would kill for|kill for (?:a|some|one)|killed it|killing it|"
    r"to hell|burn in hell|rot in hell|can go to hell|go to hell|drop dead|i'm dead|im dead|i'm deceased|dying|"
    r"dead ass|deadass|murdered (?:that|this|it)|slay(?:ed|ing)?|bombed (?:the|my|that)|blew up (?:my|the) (?:phone|mentions)|"
    r"lmao|lmfao|lol|jk|j/k|😂|🤣|💀|😭|"
    r"me muero|me mata(?:n)?|me mató|muerto de risa|matar de risa|mato por|mataría por|me muero de|"
    r"al infierno|al carajo|a la mierda|que se pudra|que se vayan|jajaja+|jaja|xd|"
    r"se lo (?:comió|comieron)|la rompi(?:ó|eron|ste)|lo mató|la mató|"
    r"lose my mind|losing my mind|die of (?:old age|boredom|embarrassment)|i'll die|i'm gonna die|"
    r"a la luna|me tiro por el balcón|me va a dar algo|me da un infarto|heart attack"
)
_SUPPORT = (
    r"thank(?:s| you)|grateful|proud of|love (?:you|them|her|him|this)|support|great job|well done|"
    r"gracias|orgullo|orgullos[oa]|apoyo|bien hecho|excelente|bravo|enhorabuena|felicidades"
)

CUE_FAMILIES: dict[str, tuple[str, float]] = {
    "violent-act": (_VIOLENT_EN + "|" + _VIOLENT_ES, 1.0),
    "first-person-intent": (_INTENT, 0.5),
    "means": (_MEANS, 0.5),
    "time-place": (_TIME_PLACE, 0.3),
    "conditional": (_CONDITIONAL, 1.0),
    "veiled": (_VEILED, 1.0),
    "incitement": (_INCITE, 1.0),
    "news-frame": (_NEWS, -1.0),
    "quote": (_QUOTE, -0.3),
    "condemn": (_CONDEMN, -1.0),
    "counter-speech": (_COUNTER, -1.0),
    "protest": (_PROTEST, -0.7),
    "hyperbole-idiom": (_HYPERBOLE, -1.0),
    "support": (_SUPPORT, -0.7),
}
CUE_NAMES = tuple(CUE_FAMILIES)
_CUE_RES = {
    name: re.compile(_W + r"(?:" + pat + r")" + (_E if name not in ("quote",) else ""), re.IGNORECASE)
    for name, (pat, _sign) in CUE_FAMILIES.items()
}


_PY_ONLY = ("conditional", "veiled", "quote")  # lazy repeats / \b / too large for hyperscan's SOM


@lru_cache(maxsize=1)
def _databases():  # noqa: ANN202 - hyperscan databases
    """Hyperscan finds most cue spans in one pass (start-of-match on, boundaries checked after);
    the few families it cannot compile run as Python regexes, only when a boundary-free hyperscan
    prefilter says they might match. Tens of thousands of posts per second instead of ~2,000.
    Compiled once per machine and kept in the cache folder (`hscache`): about 1.6 s otherwise."""
    import hyperscan

    from ..hscache import database

    som_ids = [k for k, n in enumerate(CUE_NAMES) if n not in _PY_ONLY]
    som = database("cues", [CUE_FAMILIES[CUE_NAMES[k]][0].encode("utf-8") for k in som_ids], som_ids,
                   [hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SOM_LEFTMOST] * len(som_ids))
    py_ids = [k for k, n in enumerate(CUE_NAMES) if n in _PY_ONLY]
    exprs = [re.sub(r"\\b", "", re.sub(r"\}\?", "}", CUE_FAMILIES[CUE_NAMES[k]][0])).encode("utf-8") for k in py_ids]
    pre = database("cues-pre", exprs, py_ids,
                   [hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SINGLEMATCH] * len(py_ids))
    return som, pre


def _collect(idx: int, frm: int, to: int, _fl: int, ctx: list) -> None:
    ctx.append((idx, frm, to))


def _isw(c: str) -> bool:
    return c.isalnum() or c == "_"


def family_spans(text: str) -> dict[str, list[tuple[int, int]]]:
    """Cue family -> non-overlapping (start, end) character spans in `text`, leftmost-longest."""
    out: dict[str, list[tuple[int, int]]] = {}
    low = text.lower()
    try:
        som, pre = _databases()
    except Exception:  # noqa: BLE001 - hyperscan unavailable: the regexes alone give the same cues
        som = pre = None
    if som is None or len(low) != len(text):
        for name, rx in _CUE_RES.items():
            sp = [(m.start(), m.end()) for m in rx.finditer(text)]
            if sp:
                out[name] = sp
        return out
    data = low.encode("utf-8", "surrogatepass")
    raw: list[tuple[int, int, int]] = []
    som.scan(data, match_event_handler=_collect, context=raw)
    maybe: list[tuple[int, int, int]] = []
    pre.scan(data, match_event_handler=_collect, context=maybe)
    if raw:
        if len(data) != len(text):  # byte -> character offsets
            b2c = [0] * (len(data) + 1)
            b = 0
            for ci, ch in enumerate(text):
                n = len(ch.encode("utf-8", "surrogatepass"))
                for j in range(n):
                    b2c[b + j] = ci
                b += n
            b2c[len(data)] = len(text)
        else:
            b2c = None
        by: dict[int, list[tuple[int, int]]] = {}
        n_t = len(text)
        for k, fb, tb in raw:
            st, en = (b2c[fb], b2c[tb]) if b2c else (fb, tb)
            if en < n_t and _isw(text[en]) or en <= st:
                continue
            if st > 0 and _isw(text[st - 1]):
                # only the leftmost start is reported; a shorter alternative may still match
                # at a word boundary ("sessi|on monday" vs "monday"): let the regex decide
                maybe.append((k, fb, tb))
                continue
            by.setdefault(k, []).append((st, en))
        for k, spans in by.items():
            spans.sort(key=lambda x: (x[0], -x[1]))
            keep: list[tuple[int, int]] = []
            for st, en in spans:
                if not keep or st >= keep[-1][1]:
                    keep.append((st, en))
            out[CUE_NAMES[k]] = keep
    for k in sorted({m[0] for m in maybe} - set(by if raw else ())):
        name = CUE_NAMES[k]
        sp = [(m.start(), m.end()) for m in _CUE_RES[name].finditer(text)]
        if sp:
            out[name] = sp
    return out


# the nearest-to-target interactions a keyword list cannot express
N_CUE_FEATS = len(CUE_NAMES) + 8


@dataclass
class CueHit:
    start: int
    end: int
    text: str
    cue: str


@dataclass
class CueResult:
    hits: list[CueHit] = field(default_factory=list)
    vector: np.ndarray = field(default_factory=lambda: np.zeros(N_CUE_FEATS, dtype=np.float32))


def _families_with_target_as_pronoun(text: str, spans: list[tuple[int, int]]) -> dict[str, list[tuple[int, int]]]:
    """family_spans of `text` with each target mention replaced by "them", spans mapped back to
    `text` (a span touching a replaced mention covers the whole mention)."""
    pieces: list[str] = []
    back: list[int] = []  # position in the rewritten text -> position in `text`
    i = 0
    for s, e in sorted(spans):
        if s < i:
            continue
        pieces.append(text[i:s])
        back.extend(range(i, s))
        pieces.append("them")
        back.extend([s, s, s, e - 1])
        i = e
    pieces.append(text[i:])
    back.extend(range(i, len(text)))
    back.append(len(text))
    out: dict[str, list[tuple[int, int]]] = {}
    for name, sp in family_spans("".join(pieces)).items():
        out[name] = [(back[a], back[b - 1] + 1) for a, b in sp]
    return out


def find_cues(text: str, spans: list[tuple[int, int]] | None = None, folded: str = "") -> CueResult:
    """All cue hits in the original text (plus folded-only hits, e.g. 'k1ll'), and a feature
    vector: presence per family, then interactions (intent+violence, violence near the target,
    violence without any protective frame...)."""
    res = CueResult()
    present = {}
    fam = family_spans(text)
    if spans:
        # the lexicons name the victim with a pronoun ("beat him until", "put them in the
        # ground"); read the post once more with each mention of the target as "them", so the
        # same patterns fire when the post names the target instead
        for name, sp in _families_with_target_as_pronoun(text, spans).items():
            if name not in fam:
                fam[name] = sp
    ffam = family_spans(folded) if folded and folded != text else {}
    for name in CUE_NAMES:
        ms = fam.get(name, [])
        if not ms and name in ffam and name in ("violent-act", "incitement", "veiled"):
            # the folded text differs in length: point at the whole post rather than a wrong span
            res.hits.append(CueHit(0, len(text), text[:80], name + "(obfuscated)"))
            present[name] = 1.0
            continue
        if ms:
            present[name] = 1.0
            for st, en in ms[:3]:
                res.hits.append(CueHit(st, en, text[st:en], name))
    v = res.vector
    for i, name in enumerate(CUE_NAMES):
        v[i] = present.get(name, 0.0)
    k = len(CUE_NAMES)
    viol = present.get("violent-act", 0.0)
    intent = present.get("first-person-intent", 0.0)
    protective = max(present.get(n, 0.0) for n in ("news-frame", "condemn", "counter-speech", "hyperbole-idiom"))
    v[k] = viol * intent
    v[k + 1] = viol * intent * max(present.get("means", 0.0), present.get("time-place", 0.0))
    v[k + 2] = viol * (1.0 - protective)
    # violence within 60 characters of a mention of the target
    near = 0.0
    if spans and viol:
        vh = [h for h in res.hits if h.cue == "violent-act"]
        for s, e in spans:
            if any(abs(h.start - e) < 60 or abs(s - h.end) < 60 for h in vh):
                near = 1.0
    v[k + 3] = near
    v[k + 4] = present.get("quote", 0.0) * present.get("condemn", 0.0)
    v[k + 5] = 1.0 if "?" in text else 0.0
    v[k + 6] = 1.0 if re.search(r"\b(?:you|your|u|ur|te|tu|tú)\b", text, re.IGNORECASE) else 0.0
    v[k + 7] = min(len(text), 400) / 400.0
    return res
