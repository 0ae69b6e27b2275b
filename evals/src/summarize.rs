//! Summarization: a short passage (80–200 words) to be summarized in one or
//! two sentences, scored by ROUGE-L (with stemming) against two reference
//! summaries. Difficulty grows with the length of the passage and the number
//! of facts a good summary has to keep.

use litmus::metrics::RougeVariant;
use litmus::prelude::*;

/// The task every case asks; the passage fills `{{text}}`.
const TASK: &str = "Summarize the following text in one or two sentences.\n\n{{text}}";

/// ROUGE-L F-measure (0–100) at which a summary counts as passed: abstractive
/// summaries of a good quality typically overlap their references by 30–50.
const PASS_THRESHOLD: f64 = 30.0;

/// A summarization case for `passage`, scored against `references`.
fn summary(passage: &str, references: [&str; 2]) -> TextCase {
    TextCase::new(TASK)
        .var("text", passage)
        .references(references)
        .metric(Metric::rouge(RougeVariant::RougeL, true))
        .pass_threshold(PASS_THRESHOLD)
}

// ---------------------------------------------------------------------------
// Easy
// ---------------------------------------------------------------------------

#[eval(tags = ["summarize", "text", "easy"])]
fn library_hours() -> TextCase {
    summary(
        "Starting next Monday, the Riverside Public Library will stay open until 9 p.m. on \
         weekdays instead of closing at 6 p.m. The change follows a survey in which more than half \
         of the respondents said they could only visit the library after work. To pay for the \
         longer hours, the library will close on Sunday mornings, which were the quietest time of \
         the week. The children's reading hour, previously held on Sunday at 10 a.m., will move \
         to Saturday afternoon. Librarians say they also plan to add evening workshops on job \
         applications and basic computer skills.",
        [
            "The Riverside Public Library will stay open until 9 p.m. on weekdays, paid for by \
             closing on Sunday mornings, after a survey showed many people can only visit after \
             work.",
            "Riverside library extends its weekday hours to 9 p.m. and closes on Sunday mornings \
             to serve people who work during the day.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "easy"])]
fn honeybees() -> TextCase {
    summary(
        "Honeybees play a large role in growing food. As they move from flower to flower \
         collecting nectar, they carry pollen that allows plants to produce fruit and seeds. Crops \
         such as apples, almonds, cherries and blueberries depend heavily on this work. In recent \
         years, beekeepers in many countries have reported losing a large share of their colonies \
         each winter. Scientists point to several causes acting together: parasites like the \
         varroa mite, a lack of diverse flowers, pesticide exposure and unusual weather. Farmers \
         can help by planting strips of wildflowers and by spraying crops when bees are not \
         active.",
        [
            "Honeybees pollinate many food crops, but colonies are declining because of parasites, \
             a poor variety of flowers, pesticides and weather, and farmers can help with \
             wildflowers and careful spraying.",
            "Bees are essential pollinators of crops like apples and almonds, yet many colonies \
             die each winter from a mix of mites, pesticides, weather and a lack of flowers.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "easy"])]
fn sleep_and_memory() -> TextCase {
    summary(
        "Getting enough sleep does more than make people feel rested. During deep sleep, the \
         brain replays and strengthens memories formed during the day, which is why students who \
         sleep well after studying tend to remember more. A lack of sleep, on the other hand, \
         makes it harder to concentrate and to control emotions. Most adults need between seven \
         and nine hours a night, while teenagers need even more. Experts recommend going to bed \
         at the same time every day, keeping the bedroom dark and cool, and putting screens away \
         at least half an hour before sleeping.",
        [
            "Sleep helps the brain store memories and keeps people focused, so adults should get \
             seven to nine hours a night and keep habits like a regular bedtime and no screens \
             before bed.",
            "Good sleep strengthens memory and concentration, and experts advise seven to nine \
             hours a night with a regular schedule and a dark, screen-free bedroom.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "easy"])]
fn community_garden() -> TextCase {
    summary(
        "A vacant lot on Elm Street has been turned into a community garden by a group of \
         neighbours. Over three weekends, about forty volunteers removed rubbish, built twenty \
         raised beds and installed a rainwater tank donated by a local hardware store. Each bed is \
         rented to a household for a small yearly fee, and four beds are reserved for the primary \
         school next door, whose pupils will grow vegetables as part of their science lessons. \
         The organisers hope the garden will bring neighbours together and provide fresh produce \
         to families who do not have a garden of their own.",
        [
            "Neighbours turned an empty lot on Elm Street into a community garden with twenty \
             raised beds, some reserved for a nearby school, to bring people together and provide \
             fresh vegetables.",
            "Volunteers built a community garden on a vacant Elm Street lot, renting beds to \
             households and sharing some with the local primary school.",
        ],
    )
}

// ---------------------------------------------------------------------------
// Medium
// ---------------------------------------------------------------------------

#[eval(tags = ["summarize", "text", "medium"])]
fn hybrid_work_study() -> TextCase {
    summary(
        "A two-year study of 1,600 employees at a travel company found that working from home \
         two days a week did not reduce productivity or the chances of promotion. Employees on \
         the hybrid schedule were, however, about a third less likely to quit than colleagues who \
         came to the office every day, with the largest effect among women, non-managers and \
         those with long commutes. Managers initially expected output to fall, but by the end of \
         the study most of them had changed their minds. The company has since offered the hybrid \
         arrangement to all of its staff. The researchers note that the results may not apply to \
         jobs that require constant in-person teamwork.",
        [
            "A two-year study at a travel company found that working from home two days a week \
             left productivity unchanged while cutting resignations by about a third, so the firm \
             extended hybrid work to all staff.",
            "Hybrid work did not hurt performance or promotions but made employees a third less \
             likely to quit, leading the company to offer it to everyone.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "medium"])]
fn river_cleanup() -> TextCase {
    summary(
        "More than 300 volunteers gathered on Saturday to clean a twelve-kilometre stretch of \
         the Mill River. Working in teams along both banks, they collected nearly four tonnes of \
         waste, including plastic bottles, shopping trolleys, car tyres and an old sofa. Divers \
         from a local club removed items from the riverbed near the town bridge. The event was \
         organised by the regional water authority, which said that litter in the river had \
         increased since the pandemic, when more people began walking along its paths. Its \
         measurements also show that oxygen levels in the river have improved over the last \
         decade, and fish species that had disappeared are slowly returning.",
        [
            "Over 300 volunteers removed nearly four tonnes of rubbish from twelve kilometres of \
             the Mill River in a cleanup organised by the water authority, which says the river's \
             health is slowly improving.",
            "Volunteers and divers cleared about four tonnes of waste from the Mill River, where \
             litter has grown since the pandemic even as water quality and fish numbers recover.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "medium"])]
fn photo_editor_release() -> TextCase {
    summary(
        "Version 3.0 of the open-source photo editor Lumen was released this week after \
         eighteen months of development. The headline feature is non-destructive editing: every \
         change is stored as a separate layer that can be adjusted or removed later without \
         losing the original image. The release also adds support for the RAW formats of several \
         recent cameras, a redesigned export dialog and a dark theme. Because the project file \
         format has changed, files saved in version 3.0 cannot be opened in older versions, \
         although older files still open normally. The developers thanked more than 120 \
         contributors and said the next release will focus on speed on low-end laptops.",
        [
            "Lumen 3.0, a new release of the open-source photo editor, brings non-destructive \
             editing, support for more RAW formats and a dark theme, but its files cannot be \
             opened in older versions.",
            "The open-source photo editor Lumen released version 3.0 with non-destructive layered \
             editing and new camera support, using a file format that older versions cannot read.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "medium"])]
fn volcano_monitoring() -> TextCase {
    summary(
        "Scientists monitor active volcanoes with a combination of tools to warn nearby \
         communities before an eruption. Seismometers detect the small earthquakes that occur \
         when magma forces its way through rock. Satellite radar and GPS stations measure whether \
         the ground is swelling, which can mean that magma is collecting underground. Gas sensors \
         track the release of sulphur dioxide and carbon dioxide, whose amounts often change \
         before an eruption. No single signal is reliable on its own, so observatories combine \
         all of them to estimate the level of danger. Even so, predicting the exact day of an \
         eruption remains very difficult, and many warnings describe a growing risk rather than a \
         date.",
        [
            "Volcano observatories combine earthquake, ground-swelling and gas measurements to \
             warn communities of eruptions, although the exact timing remains hard to predict.",
            "Scientists watch volcanoes with seismometers, satellites, GPS and gas sensors, \
             combining the signals to judge the risk of an eruption but rarely its exact date.",
        ],
    )
}

// ---------------------------------------------------------------------------
// Hard
// ---------------------------------------------------------------------------

#[eval(tags = ["summarize", "text", "hard"])]
fn printing_press() -> TextCase {
    summary(
        "Before the middle of the fifteenth century, books in Europe were copied by hand, which \
         made them rare and expensive. Around 1450, Johannes Gutenberg in Mainz combined several \
         existing ideas into a practical printing system: metal type that could be cast quickly \
         and reused, an oil-based ink that stuck to metal, and a press adapted from those used to \
         make wine. His workshop's Bible, completed in about 1455, showed that printed books \
         could match the quality of manuscripts. Within fifty years, printing shops had spread to \
         more than two hundred European cities and had produced millions of books. Cheaper books \
         helped spread literacy, allowed scholars to share and check each other's work, and made \
         it far harder for authorities to suppress new religious and political ideas.",
        [
            "Around 1450 Gutenberg combined reusable metal type, oil-based ink and an adapted \
             press into a practical printing system that spread across Europe and made books \
             cheap, boosting literacy, scholarship and the circulation of new ideas.",
            "Gutenberg's printing press replaced costly hand-copied books, and within decades \
             printing had spread to hundreds of European cities, making knowledge and new ideas \
             far easier to share.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "hard"])]
fn interest_rate_decision() -> TextCase {
    summary(
        "The central bank raised its main interest rate by a quarter of a percentage point to \
         4.5 percent on Thursday, its third increase this year. In a statement, the bank said \
         that although inflation had fallen from its peak of 9 percent, it remained well above \
         the 2 percent target, driven mainly by rising prices for services and rents. Two of the \
         nine members of the rate-setting committee voted to keep rates unchanged, arguing that \
         earlier increases had not yet fully affected the economy. The governor said future \
         decisions would depend on incoming data and did not rule out further rises. Higher rates \
         make mortgages and business loans more expensive, which is meant to slow spending and \
         bring prices under control.",
        [
            "The central bank raised its main rate by a quarter point to 4.5 percent, its third \
             increase this year, because inflation remains well above its 2 percent target, and \
             it did not rule out further rises.",
            "Despite two dissenting votes, the central bank lifted interest rates to 4.5 percent \
             to fight inflation that is falling but still driven by the prices of services and \
             rents.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "hard"])]
fn coral_bleaching() -> TextCase {
    summary(
        "Coral reefs cover less than one percent of the ocean floor but shelter around a quarter \
         of all marine species. Corals get most of their food from tiny algae living inside their \
         tissues, which also give them their colours. When the water becomes too warm for several \
         weeks, corals expel these algae and turn white, a process known as bleaching. Bleached \
         corals are not dead, but they are starving, and if high temperatures last too long, many \
         of them die. Marine heatwaves have become more frequent and more intense as the oceans \
         warm, leaving reefs less time to recover between events. Researchers are testing ways \
         to help, such as breeding heat-tolerant corals and shading small reefs, but they stress \
         that these efforts only buy time unless warming itself is slowed.",
        [
            "Warming seas make corals expel the algae that feed them, and increasingly frequent \
             heatwaves leave reefs too little time to recover, so efforts like breeding \
             heat-tolerant corals only buy time unless warming is slowed.",
            "Coral reefs, home to a quarter of marine species, are bleaching and dying more often \
             as ocean heatwaves grow, and scientists say local rescue efforts cannot replace \
             limiting warming.",
        ],
    )
}

#[eval(tags = ["summarize", "text", "hard"])]
fn kettle_recall() -> TextCase {
    summary(
        "A manufacturer of kitchen appliances is recalling about 85,000 electric kettles sold \
         between March and October last year after receiving reports that the base can overheat \
         and melt. The company said it knew of 31 incidents, including four minor burns, but no \
         fires. The problem has been traced to a faulty switch supplied by a single factory, and \
         kettles made with switches from other suppliers are not affected. Customers can check \
         whether their kettle is included by entering the serial number printed under the base \
         on the company's website. Owners of affected kettles should stop using them immediately \
         and will receive either a full refund or a free replacement, including return shipping.",
        [
            "A kitchen appliance maker is recalling 85,000 electric kettles whose faulty switch \
             can make the base overheat and melt, and it offers owners a refund or replacement \
             after they check their serial numbers online.",
            "About 85,000 kettles sold last year are being recalled over a switch that can \
             overheat, after 31 incidents including minor burns; owners should stop using them \
             and get a refund or a replacement.",
        ],
    )
}
